//! The mouth: oral commissures moved by smile, pucker and lip depression per
//! side; lips shaped by cupid's bow, tubercle and fullness; the opening with
//! teeth, gums and tongue when the lips part. Provides the lips' relief for
//! shading and paints them into the albedo.

use tiny_skia::Pixmap;

use super::activation::Activation;
use super::camera::Camera;
use super::canvas;
use super::colour::{mix, rgb, scale, Rgb};
use super::identity::Identity;
use super::nose::Nose;
use super::space::{sign, smoothstep};
use super::surface::Surface;
use screening::geometry::{PerSide, Point, Side};

/// One vertical section through the lips at a fraction `t` from the centre
/// to a corner.
#[derive(Debug, Clone, Copy)]
struct Section {
    x: f32,
    /// Upper lip's outer border (vermilion top), upper lip's inner edge,
    /// lower lip's inner edge, lower lip's outer border.
    uo: f32,
    ui: f32,
    li: f32,
    lo: f32,
}

/// Per-side lip parameters.
#[derive(Debug, Clone, Copy)]
struct Lips {
    /// Upper and lower vermilion height.
    hu: f32,
    hl: f32,
    /// How far the upper lip's inner edge rises and the lower lip's falls.
    open_u: f32,
    open_l: f32,
}

/// The mouth of one frame.
#[derive(Debug, Clone)]
pub(crate) struct Mouth {
    /// Midline x of the mouth (pulled towards the stronger side).
    pub centre_x: f32,
    /// Rest height of the stomion (where closed lips meet) on the midline.
    pub stomion: f32,
    centre_y: f32,
    corners: PerSide<[f32; 3]>,
    lips: PerSide<Lips>,
    protrude_u: f32,
    protrude_l: f32,
    jaw: f32,
    pucker: f32,
    half_rest: f32,
}

impl Mouth {
    /// The mouth of `id` in the state `act`, below `nose`.
    pub fn new(id: &Identity, act: &Activation, nose: &Nose) -> Mouth {
        let chin = id.face_length;
        let stomion = nose.subnasale + 0.32 * (chin - nose.subnasale);
        let half = 0.5 * id.mouth_width;
        let jaw = act.jaw_open;
        let mut dx = PerSide::new(0.0, 0.0);
        let mut dy = PerSide::new(0.0, 0.0);
        let corners = PerSide::new(Side::Left, Side::Right).map(|side| {
            let s = sign(side);
            let a = act.side.get(side);
            let asym = id.asymmetry.get(side);
            let x = s
                * (8.5 * a.smile - 0.5 * half * a.pucker + 1.5 * a.lip_depress
                    - 0.8 * a.corner_droop);
            let y =
                1.0 + 3.0 * a.corner_droop - asym.mouth_corner_mm - 9.0 * a.smile - 0.5 * a.pucker
                    + 2.5 * a.lip_depress
                    - 0.8 * a.lip_raise
                    + 1.5 * jaw;
            *dx.get_mut(side) = x;
            *dy.get_mut(side) = y;
            [s * half + x, stomion + y, -3.0 * a.smile + 3.0 * a.pucker]
        });
        let smile = 0.5 * (act.side.left.smile + act.side.right.smile);
        let pucker = 0.5 * (act.side.left.pucker + act.side.right.pucker);
        let full = id.lip_fullness;
        let lips = act.side.map(|a| Lips {
            hu: 5.8 * full * (1.0 - 0.3 * a.smile) * (1.0 + 0.4 * a.pucker),
            hl: 8.0 * full * (1.0 - 0.3 * a.smile) * (1.0 + 0.3 * a.pucker),
            open_u: 4.5 * a.lip_raise + 1.5 * jaw,
            open_l: 4.0 * a.lip_depress + 8.0 * jaw,
        });
        Mouth {
            centre_x: 0.35 * (dx.left + dx.right),
            stomion,
            centre_y: stomion + 0.12 * (dy.left + dy.right) + 0.5 * jaw,
            corners,
            lips,
            protrude_u: (3.4 * full + 6.5 * pucker) * (1.0 - 0.35 * smile),
            protrude_l: (3.8 * full + 5.0 * pucker) * (1.0 - 0.3 * smile),
            jaw,
            pucker,
            half_rest: half,
        }
    }

    /// The oral commissure of `side`, `[x, y]` in the head frame.
    pub fn corner(&self, side: Side) -> [f32; 2] {
        let c = self.corners.get(side);
        [c[0], c[1]]
    }

    fn lips_at(&self, side: Side, t: f32) -> Lips {
        let a = self.lips.get(side);
        let (l, r) = (self.lips.left, self.lips.right);
        let k = smoothstep(0.0, 0.7, t);
        let blend = |avg: f32, own: f32| avg + (own - avg) * k;
        Lips {
            hu: blend(0.5 * (l.hu + r.hu), a.hu),
            hl: blend(0.5 * (l.hl + r.hl), a.hl),
            open_u: blend(0.5 * (l.open_u + r.open_u), a.open_u),
            open_l: blend(0.5 * (l.open_l + r.open_l), a.open_l),
        }
    }

    fn half_width(&self, side: Side) -> f32 {
        (self.corners.get(side)[0] - self.centre_x).abs().max(5.0)
    }

    fn section(&self, side: Side, t: f32) -> Section {
        let t = t.clamp(0.0, 1.0);
        let s = sign(side);
        let hw = self.half_width(side);
        let c = self.corners.get(side);
        let d = t * hw;
        let lips = self.lips_at(side, t);
        let ys = self.centre_y + (c[1] - self.centre_y) * t * t;
        let ou = lips.open_u * (1.0 - t.powf(2.5)).max(0.0).powf(0.9);
        let ol = lips.open_l * (1.0 - t.powf(2.2)).max(0.0).powf(0.9);
        let closed = 1.0 - smoothstep(0.0, 2.0, lips.open_u + lips.open_l);
        let tubercle = 0.7 * (-(d / 5.0).powi(2)).exp() * closed;
        let bow = -1.1 * (-((d - 7.0) / 3.5).powi(2)).exp() + 0.9 * (-(d / 2.5).powi(2)).exp();
        let ui = ys - ou + tubercle;
        let li = ys + ol;
        Section {
            x: self.centre_x + s * d,
            uo: ys - ou - lips.hu * (1.0 - t.powf(2.5)).max(0.0).powf(0.7) + bow * (1.0 - t),
            ui,
            li: li.max(ui),
            lo: li.max(ui) + lips.hl * (1.0 - t * t).max(0.0).powf(0.6),
        }
    }

    /// Height of the lower lip's outer border on the midline.
    pub fn lower_lip_bottom(&self) -> f32 {
        self.section(Side::Left, 0.0).lo
    }

    /// Relief of lips and mouth opening at `(x, y)`.
    pub fn height(&self, x: f32, y: f32) -> f32 {
        let side = if x >= self.centre_x {
            Side::Left
        } else {
            Side::Right
        };
        let hw = self.half_width(side);
        let t = (x - self.centre_x).abs() / hw;
        if t > 1.2 || y < self.centre_y - 22.0 || y > self.centre_y + 26.0 {
            return 0.0;
        }
        let sec = self.section(side, t);
        let env = (1.0 - t * t).max(0.0).powf(0.6);
        if env <= 0.0 {
            return 0.0;
        }
        let gauss = |c: f32, sigma: f32| (-((y - c) / sigma).powi(2) * 0.5).exp();
        let hu = (sec.ui - sec.uo).max(0.5);
        let hl = (sec.lo - sec.li).max(0.5);
        let upper = self.protrude_u * gauss(0.5 * (sec.uo + sec.ui) + 0.1 * hu, 0.42 * hu + 0.9);
        let lower = self.protrude_l * gauss(0.5 * (sec.li + sec.lo) - 0.05 * hl, 0.42 * hl + 1.0);
        let gap = sec.li - sec.ui;
        let cavity = if gap > 0.2 {
            7.0 * smoothstep(sec.ui - 0.5, sec.ui + 1.0, y)
                * (1.0 - smoothstep(sec.li - 1.0, sec.li + 0.5, y))
        } else {
            0.0
        };
        env * (upper + lower - cavity)
    }

    fn edge(
        &self,
        head: &impl Surface,
        cam: &Camera,
        f: impl Fn(&Section) -> f32,
        n: usize,
    ) -> Vec<Point> {
        // Right corner → centre → left corner, as the image reads them
        // (the patient's right is on the image's left).
        let mut pts = Vec::with_capacity(2 * n + 1);
        for i in (0..=n).rev() {
            let sec = self.section(Side::Right, i as f32 / n as f32);
            pts.push(head.image_at(cam, sec.x, f(&sec)));
        }
        for i in 1..=n {
            let sec = self.section(Side::Left, i as f32 / n as f32);
            pts.push(head.image_at(cam, sec.x, f(&sec)));
        }
        pts
    }

    /// Paints lips, opening, teeth and perioral lines into the albedo.
    pub fn draw(&self, head: &impl Surface, cam: &Camera, albedo: &mut Pixmap, id: &Identity) {
        let px = cam.ppmm;
        let n = 12;
        let lip = rgb(id.lip);
        let skin = rgb(id.skin);
        let dark_skin = scale(skin, 0.6);

        let upper_outer = self.edge(head, cam, |s| s.uo, n);
        let upper_inner = self.edge(head, cam, |s| s.ui, n);
        let lower_inner = self.edge(head, cam, |s| s.li, n);
        let lower_outer = self.edge(head, cam, |s| s.lo, n);

        // Opening: cavity, gums, teeth, tongue.
        let open = self.lips.left.open_u
            + self.lips.left.open_l
            + self.lips.right.open_u
            + self.lips.right.open_l;
        if open > 0.6 {
            let mut cavity = upper_inner.clone();
            cavity.extend(lower_inner.iter().rev());
            let path = canvas::smooth(&cavity, true);
            canvas::fill(
                albedo,
                path.as_ref(),
                &canvas::solid([0.2, 0.07, 0.07], 1.0),
                None,
            );
            let mask = canvas::mask(albedo.width(), albedo.height(), path.as_ref());
            let mask = mask.as_ref();
            let centre = head.image_at(cam, self.centre_x, self.centre_y);
            let hw = 0.5 * (self.half_width(Side::Left) + self.half_width(Side::Right));
            // Tongue low in the mouth.
            let tongue = head.image_at(cam, self.centre_x, self.centre_y + 4.0 + 5.0 * self.jaw);
            canvas::fill(
                albedo,
                canvas::ellipse(tongue, 0.6 * hw * px, 3.5 * px).as_ref(),
                &canvas::solid([0.55, 0.25, 0.25], 0.8),
                mask,
            );
            // Teeth are fixed to the skull (upper) and jaw (lower), not the lips.
            let tooth: Rgb = [0.94, 0.91, 0.84];
            let arch = |x: f32| (x / (self.half_rest + 6.0)).powi(2);
            let upper_edge = |x: f32| self.stomion + 1.3 - 2.5 * arch(x);
            let lower_edge = |x: f32| self.stomion + 2.3 + 8.0 * self.jaw - 1.5 * arch(x);
            let span = self.half_rest + 8.0;
            let gum: Vec<Point> = [(-span, -20.0), (span, -20.0), (span, -8.5), (-span, -8.5)]
                .iter()
                .map(|&(x, dy)| head.image_at(cam, x, self.stomion + dy - 2.5 * arch(x)))
                .collect();
            canvas::fill(
                albedo,
                canvas::poly(&gum, true).as_ref(),
                &canvas::solid([0.78, 0.42, 0.42], 1.0),
                mask,
            );
            let shade = |c: Rgb| {
                canvas::radial(
                    centre,
                    hw * 1.1 * px,
                    hw * 0.9 * px,
                    cam.roll(),
                    &[
                        (0.0, c, 1.0),
                        (0.6, scale(c, 0.88), 1.0),
                        (1.0, scale(c, 0.4), 1.0),
                    ],
                )
            };
            let mut upper_teeth: Vec<Point> = Vec::new();
            for i in 0..=16 {
                let x = -span + 2.0 * span * i as f32 / 16.0;
                let scallop = 0.8 * ((x / 4.2) * std::f32::consts::PI).cos().abs();
                upper_teeth.push(head.image_at(
                    cam,
                    x,
                    self.stomion - 9.2 + scallop - 2.5 * arch(x),
                ));
            }
            for i in (0..=16).rev() {
                let x = -span + 2.0 * span * i as f32 / 16.0;
                upper_teeth.push(head.image_at(cam, x, upper_edge(x)));
            }
            let mut lower_teeth: Vec<Point> = Vec::new();
            for i in 0..=12 {
                let x = -span + 2.0 * span * i as f32 / 12.0;
                lower_teeth.push(head.image_at(cam, x, lower_edge(x)));
            }
            for i in (0..=12).rev() {
                let x = -span + 2.0 * span * i as f32 / 12.0;
                lower_teeth.push(head.image_at(cam, x, lower_edge(x) + 11.0));
            }
            canvas::fill(
                albedo,
                canvas::poly(&lower_teeth, true).as_ref(),
                &canvas::shaded(shade(scale(tooth, 0.9)), tooth),
                mask,
            );
            canvas::fill(
                albedo,
                canvas::poly(&upper_teeth, true).as_ref(),
                &canvas::shaded(shade(tooth), tooth),
                mask,
            );
            // Gaps between teeth: centrals 8.5 mm, laterals 6.5, then canines.
            let gap = canvas::solid([0.45, 0.38, 0.33], 0.5);
            for &x in &[0.0f32, 8.5, -8.5, 15.0, -15.0, 21.5, -21.5, 27.0, -27.0] {
                let line = [
                    head.image_at(cam, x, self.stomion - 9.0),
                    head.image_at(cam, x, upper_edge(x) - 0.1),
                ];
                canvas::stroke(
                    albedo,
                    canvas::poly(&line, false).as_ref(),
                    &gap,
                    0.35 * px,
                    mask,
                );
            }
            for &x in &[0.0f32, 5.3, -5.3, 10.8, -10.8, 16.5, -16.5] {
                let line = [
                    head.image_at(cam, x, lower_edge(x) + 0.1),
                    head.image_at(cam, x, lower_edge(x) + 9.0),
                ];
                canvas::stroke(
                    albedo,
                    canvas::poly(&line, false).as_ref(),
                    &gap,
                    0.3 * px,
                    mask,
                );
            }
        }

        // Lips: the upper faces down and is darker; the lower catches light.
        let mut upper = upper_outer.clone();
        upper.extend(upper_inner.iter().rev());
        canvas::fill(
            albedo,
            canvas::smooth(&upper, true).as_ref(),
            &canvas::solid(scale(lip, 0.9), 1.0),
            None,
        );
        let mut lower = lower_inner.clone();
        lower.extend(lower_outer.iter().rev());
        let lower_path = canvas::smooth(&lower, true);
        let lc = head.image_at(
            cam,
            self.centre_x,
            0.5 * (self.section(Side::Left, 0.0).li + self.lower_lip_bottom()),
        );
        let hw = 0.5 * (self.half_width(Side::Left) + self.half_width(Side::Right));
        let shader = canvas::radial(
            lc,
            hw * px,
            3.5 * px,
            cam.roll(),
            &[
                (0.0, mix(lip, [1.0, 0.9, 0.88], 0.12), 1.0),
                (0.7, lip, 1.0),
                (1.0, scale(lip, 0.92), 1.0),
            ],
        );
        canvas::fill(
            albedo,
            lower_path.as_ref(),
            &canvas::shaded(shader, lip),
            None,
        );
        // Soft vermilion border: blend the lip edges into the skin.
        canvas::stroke(
            albedo,
            canvas::smooth(&upper_outer, false).as_ref(),
            &canvas::solid(mix(lip, skin, 0.5), 0.6),
            0.7 * px,
            None,
        );
        canvas::stroke(
            albedo,
            canvas::smooth(&lower_outer, false).as_ref(),
            &canvas::solid(mix(lip, skin, 0.5), 0.5),
            0.9 * px,
            None,
        );
        // White roll above the upper lip.
        let roll: Vec<Point> = self.edge(head, cam, |s| s.uo - 0.7, n);
        canvas::stroke(
            albedo,
            canvas::smooth(&roll, false).as_ref(),
            &canvas::solid(mix(skin, [1.0, 1.0, 1.0], 0.15), 0.35),
            0.8 * px,
            None,
        );
        // Vertical lip lines.
        let line = canvas::solid(scale(lip, 0.75), 0.18 + 0.15 * head.age());
        for i in 0..9 {
            let t = (i as f32 - 4.0) / 5.0;
            let side = if t >= 0.0 { Side::Left } else { Side::Right };
            let sec = self.section(side, t.abs());
            let h = sec.lo - sec.li;
            let pts = [
                head.image_at(cam, sec.x, sec.li + 0.2 * h),
                head.image_at(cam, sec.x + 0.3 * t, sec.li + 0.75 * h),
            ];
            canvas::stroke(
                albedo,
                canvas::poly(&pts, false).as_ref(),
                &line,
                0.3 * px,
                None,
            );
        }

        // The line where the lips meet, darkest at the corners.
        if open <= 0.6 {
            canvas::stroke(
                albedo,
                canvas::smooth(&upper_inner, false).as_ref(),
                &canvas::solid(scale(lip, 0.3), 0.8),
                0.75 * px,
                None,
            );
        }
        for side in Side::BOTH {
            let c = self.corner(side);
            let p = head.image_at(cam, c[0], c[1]);
            let r = 2.2 * px;
            let shader = canvas::radial(
                p,
                r,
                r,
                0.0,
                &[(0.0, scale(lip, 0.35), 0.7), (1.0, scale(lip, 0.6), 0.0)],
            );
            canvas::fill(
                albedo,
                canvas::ellipse(p, r, r).as_ref(),
                &canvas::shaded(shader, lip),
                None,
            );
            // Marionette lines with age, perioral lines with pucker and age.
            let s = sign(side);
            let m = 0.25 * head.age();
            if m > 0.02 {
                let pts = [
                    head.image_at(cam, c[0] + s * 1.5, c[1] + 3.0),
                    head.image_at(cam, c[0] + s * 3.5, c[1] + 16.0),
                ];
                canvas::stroke(
                    albedo,
                    canvas::poly(&pts, false).as_ref(),
                    &canvas::solid(dark_skin, m),
                    0.7 * px,
                    None,
                );
            }
        }
        let perioral = 0.5 * self.pucker + 0.2 * head.age();
        if perioral > 0.03 {
            for i in 0..7 {
                let t = (i as f32 - 3.0) / 3.5;
                let side = if t >= 0.0 { Side::Left } else { Side::Right };
                let sec = self.section(side, t.abs());
                let pts = [
                    head.image_at(cam, sec.x, sec.uo - 0.5),
                    head.image_at(cam, sec.x + 0.4 * t, sec.uo - 3.5),
                ];
                canvas::stroke(
                    albedo,
                    canvas::poly(&pts, false).as_ref(),
                    &canvas::solid(dark_skin, perioral),
                    0.35 * px,
                    None,
                );
            }
        }
    }
}
