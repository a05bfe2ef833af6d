//! Who a virtual patient is: the fixed traits of one face (shape, colours,
//! hair, age, accessories, natural asymmetry) and the [`Patient`] that pairs
//! them with a [`Condition`], all drawn from one seed.

use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use serde::{Deserialize, Serialize};

use super::rng;
use screening::geometry::{PerSide, Side};
use screening::protocol::{Condition, ConditionKind, Pattern, Severity};

/// Sex as it shows in a face photo (jaw, brows, beard, typical hair).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    /// Female.
    Female,
    /// Male.
    Male,
}

/// How the hair is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HairStyle {
    /// No scalp hair.
    Bald,
    /// Clipped a few millimetres long.
    Buzz,
    /// Short, with a little volume.
    Short,
    /// Short with a high, receding hairline.
    Receding,
    /// Down to the ears, with a side part.
    Medium,
    /// Past the shoulders, framing the face.
    Long,
    /// Pulled back tight into a bun.
    Bun,
}

impl HairStyle {
    /// Every style.
    pub const ALL: [HairStyle; 7] = [
        HairStyle::Bald,
        HairStyle::Buzz,
        HairStyle::Short,
        HairStyle::Receding,
        HairStyle::Medium,
        HairStyle::Long,
        HairStyle::Bun,
    ];

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            HairStyle::Bald => "bald",
            HairStyle::Buzz => "buzz",
            HairStyle::Short => "short",
            HairStyle::Receding => "receding",
            HairStyle::Medium => "medium",
            HairStyle::Long => "long",
            HairStyle::Bun => "bun",
        }
    }
}

/// The small differences between the two sides that every face has.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Asymmetry {
    /// Factor on this eye's size and aperture (about 1 ± 0.03).
    pub eye_size: f32,
    /// Brow height offset in millimetres (positive = higher).
    pub brow_height_mm: f32,
    /// Mouth corner height offset in millimetres (positive = higher).
    pub mouth_corner_mm: f32,
    /// Factor on this side's muscle strength (about 1 ± 0.05).
    pub strength: f32,
}

impl Default for Asymmetry {
    fn default() -> Self {
        Asymmetry {
            eye_size: 1.0,
            brow_height_mm: 0.0,
            mouth_corner_mm: 0.0,
            strength: 1.0,
        }
    }
}

/// The fixed traits of one virtual face. Lengths are millimetres of a real
/// head; colours are sRGB albedo before lighting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    /// Sex as it shows in the face.
    pub sex: Sex,
    /// Age in years (20..80); drives wrinkles, lid droop and greying.
    pub age: f32,
    /// Fitzpatrick skin type, 1 (very fair) ..= 6 (deeply pigmented).
    pub fitzpatrick: u8,
    /// Skin albedo.
    pub skin: [u8; 3],
    /// Lip (vermilion) albedo.
    pub lip: [u8; 3],
    /// Hair cut.
    pub hair_style: HairStyle,
    /// Has a fringe (bangs) over the forehead, above the brows.
    pub fringe: bool,
    /// Scalp and beard hair colour.
    pub hair_colour: [u8; 3],
    /// Eyebrow colour.
    pub brow_colour: [u8; 3],
    /// Eyebrow thickness factor (about 0.6..1.4).
    pub brow_thickness: f32,
    /// Height of the brow arch above its ends, millimetres.
    pub brow_arch: f32,
    /// Iris colour.
    pub iris_colour: [u8; 3],
    /// Wears thin-framed glasses.
    pub glasses: bool,
    /// Colour of the glasses' frame.
    pub frame_colour: [u8; 3],
    /// Has facial hair.
    pub beard: bool,
    /// 0.15 = stubble .. 1 = full beard (ignored without `beard`).
    pub beard_density: f32,
    /// Half the face width at the cheekbones, millimetres (62..74).
    pub face_width: f32,
    /// Eye line to chin, millimetres (105..128).
    pub face_length: f32,
    /// Jaw width as a fraction of the cheekbone width (0.70..0.92).
    pub jaw_width: f32,
    /// Chin width as a fraction of the cheekbone width (0.22..0.36).
    pub chin_width: f32,
    /// Eye line to hairline, millimetres (55..75).
    pub forehead_height: f32,
    /// Distance between the eye centres, millimetres (58..68).
    pub eye_spacing: f32,
    /// Palpebral fissure length (canthus to canthus), millimetres (26..33).
    pub eye_width: f32,
    /// Palpebral fissure height at rest, millimetres (7..11.5).
    pub eye_opening: f32,
    /// Outer canthus above inner canthus, degrees (-2..8).
    pub canthal_tilt: f32,
    /// Eye line to subnasale, millimetres (40..52).
    pub nose_length: f32,
    /// Half the width across the nostril wings, millimetres (14..21).
    pub nose_width: f32,
    /// How far the nose tip stands out, millimetres (16..28).
    pub nose_projection: f32,
    /// Commissure to commissure at rest, millimetres (44..58).
    pub mouth_width: f32,
    /// Lip thickness factor (0.6..1.4).
    pub lip_fullness: f32,
    /// Ear size factor (0.9..1.12).
    pub ear_size: f32,
    /// Colour of the top the patient wears.
    pub clothing: [u8; 3],
    /// Natural left/right differences.
    pub asymmetry: PerSide<Asymmetry>,
}

/// Typical skin albedo per Fitzpatrick type (I..VI), sRGB.
const SKIN: [[f32; 3]; 6] = [
    [238.0, 208.0, 190.0],
    [226.0, 185.0, 155.0],
    [200.0, 152.0, 116.0],
    [164.0, 114.0, 80.0],
    [120.0, 80.0, 54.0],
    [78.0, 52.0, 38.0],
];

/// Natural hair colours, darkest first.
const HAIR: [[u8; 3]; 7] = [
    [24, 20, 18],
    [48, 34, 26],
    [84, 58, 38],
    [128, 92, 60],
    [192, 156, 104],
    [140, 66, 34],
    [106, 74, 52],
];

/// Iris colours: dark brown, brown, hazel, green, blue, grey.
const IRIS: [[u8; 3]; 6] = [
    [52, 32, 20],
    [92, 56, 30],
    [118, 92, 50],
    [86, 108, 66],
    [78, 118, 156],
    [112, 124, 130],
];

/// Clothing colours: muted, like people wear to a clinic.
const CLOTHING: [[u8; 3]; 10] = [
    [40, 48, 70],
    [180, 180, 176],
    [120, 30, 40],
    [60, 90, 60],
    [30, 30, 32],
    [200, 190, 160],
    [70, 110, 150],
    [150, 110, 80],
    [230, 230, 228],
    [90, 60, 100],
];

fn lerp3(a: [f32; 3], b: [f32; 3], t: f32) -> [f32; 3] {
    [
        a[0] + (b[0] - a[0]) * t,
        a[1] + (b[1] - a[1]) * t,
        a[2] + (b[2] - a[2]) * t,
    ]
}

fn to_u8(c: [f32; 3]) -> [u8; 3] {
    c.map(|v| v.round().clamp(0.0, 255.0) as u8)
}

impl Identity {
    /// A random face, drawn from `rng`.
    pub fn random(rng: &mut ChaCha8Rng) -> Identity {
        let sex = if rng.gen_bool(0.5) {
            Sex::Male
        } else {
            Sex::Female
        };
        let male = sex == Sex::Male;
        let age = rng.gen_range(20.0f32..80.0);
        let old = ((age - 35.0) / 45.0).clamp(0.0, 1.0);
        let fitzpatrick: u8 = rng.gen_range(1..=6);

        // Skin: a shade within the type and a warmer or more olive undertone.
        let base = SKIN[usize::from(fitzpatrick - 1)];
        let shade = rng.gen_range(0.93f32..1.06);
        let undertone = rng.gen_range(-1.0f32..1.0);
        let skin = [
            base[0] * shade * (1.0 + 0.025 * undertone),
            base[1] * shade,
            base[2] * shade * (1.0 - 0.05 * undertone),
        ];
        // Lips are redder on fair skin and darker, more violet on dark skin.
        let dark = f32::from(fitzpatrick - 1) / 5.0;
        let lip_tint = lerp3([0.86, 0.58, 0.60], [0.80, 0.66, 0.74], dark);
        let lip = [
            skin[0] * lip_tint[0],
            skin[1] * lip_tint[1],
            skin[2] * lip_tint[2],
        ];

        let hair_colour = if rng.gen_bool(f64::from(old * 0.8)) {
            // Grey to white with age.
            let g = rng.gen_range(120.0f32..215.0);
            [g, g * 0.98, g * 0.95]
        } else {
            let pick = if fitzpatrick >= 4 || rng.gen_bool(0.35) {
                HAIR[rng.gen_range(0..2)]
            } else {
                *HAIR.choose(rng).unwrap_or(&HAIR[1])
            };
            pick.map(f32::from).map(|v| v * rng.gen_range(0.9..1.1))
        };
        let brow_colour = lerp3(
            hair_colour,
            [30.0, 24.0, 20.0],
            if old > 0.5 { 0.3 } else { 0.5 },
        );

        let hair_style = {
            let styles: &[(HairStyle, f32)] = if male {
                &[
                    (HairStyle::Bald, 0.05 + 0.25 * old),
                    (HairStyle::Buzz, 0.2),
                    (HairStyle::Short, 0.4),
                    (HairStyle::Receding, 0.1 + 0.3 * old),
                    (HairStyle::Medium, 0.12),
                    (HairStyle::Long, 0.03),
                ]
            } else {
                &[
                    (HairStyle::Short, 0.15),
                    (HairStyle::Medium, 0.3),
                    (HairStyle::Long, 0.4),
                    (HairStyle::Bun, 0.2),
                    (HairStyle::Buzz, 0.02),
                ]
            };
            styles
                .choose_weighted(rng, |s| s.1)
                .map(|s| s.0)
                .unwrap_or(HairStyle::Short)
        };

        let fringe = matches!(
            hair_style,
            HairStyle::Medium | HairStyle::Long | HairStyle::Short
        ) && rng.gen_bool(if male { 0.1 } else { 0.35 });

        let iris_colour = if fitzpatrick >= 4 {
            IRIS[rng.gen_range(0..2)]
        } else {
            *IRIS.choose(rng).unwrap_or(&IRIS[1])
        };

        let glasses = rng.gen_bool(0.2);
        let frame_colour = *[
            [25u8, 22, 20],
            [90, 60, 40],
            [150, 150, 155],
            [160, 130, 70],
            [40, 40, 70],
        ]
        .choose(rng)
        .unwrap_or(&[25, 22, 20]);
        let beard = male && rng.gen_bool(0.4);
        let beard_density = if rng.gen_bool(0.5) {
            rng.gen_range(0.15..0.35)
        } else {
            rng.gen_range(0.55..1.0)
        };

        let size = if male { 1.03 } else { 0.97 };
        let n = |rng: &mut ChaCha8Rng, sd: f32| {
            Normal::new(0.0f32, sd)
                .map(|d| d.sample(rng))
                .unwrap_or(0.0)
        };

        let asym = |rng: &mut ChaCha8Rng| Asymmetry {
            eye_size: 1.0 + n(rng, 0.015).clamp(-0.03, 0.03),
            brow_height_mm: n(rng, 0.7).clamp(-1.5, 1.5),
            mouth_corner_mm: n(rng, 0.5).clamp(-1.0, 1.0),
            strength: 1.0 + n(rng, 0.025).clamp(-0.05, 0.05),
        };
        let asymmetry = PerSide::new(asym(rng), asym(rng));

        Identity {
            sex,
            age,
            fitzpatrick,
            skin: to_u8(skin),
            lip: to_u8(lip),
            hair_style,
            fringe,
            hair_colour: to_u8(hair_colour),
            brow_colour: to_u8(brow_colour),
            brow_thickness: rng.gen_range(0.6f32..1.0) + if male { 0.35 } else { 0.0 },
            brow_arch: rng.gen_range(1.5f32..4.5) + if male { 0.0 } else { 1.0 },
            iris_colour,
            glasses,
            frame_colour,
            beard,
            beard_density,
            face_width: (rng.gen_range(63.0f32..72.0) * size).clamp(60.0, 75.0),
            face_length: (rng.gen_range(102.0f32..116.0) * size).clamp(98.0, 122.0),
            jaw_width: rng.gen_range(0.76f32..0.86) + if male { 0.05 } else { 0.0 },
            chin_width: rng.gen_range(0.26f32..0.34) + if male { 0.05 } else { 0.0 },
            forehead_height: rng.gen_range(56.0f32..72.0),
            eye_spacing: rng.gen_range(58.0f32..67.0) * size,
            eye_width: rng.gen_range(27.0f32..32.0) * size,
            eye_opening: rng.gen_range(9.0f32..11.5) - 1.8 * old,
            canthal_tilt: rng.gen_range(-1.0f32..7.0),
            nose_length: rng.gen_range(41.0f32..50.0) * size,
            nose_width: rng.gen_range(14.5f32..19.0) + 1.2 * dark,
            nose_projection: rng.gen_range(17.0f32..25.0) - 3.0 * dark,
            mouth_width: rng.gen_range(45.0f32..55.0) * size,
            lip_fullness: rng.gen_range(0.75f32..1.2) + 0.25 * dark - 0.2 * old,
            ear_size: rng.gen_range(0.92f32..1.08) + 0.05 * old,
            clothing: *CLOTHING.choose(rng).unwrap_or(&CLOTHING[0]),
            asymmetry,
        }
    }
}

/// A virtual patient: a face and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Patient {
    /// Stable identifier, `vp-` and the seed (`vp-000042`).
    pub id: String,
    /// The seed everything about this patient was drawn from.
    pub seed: u64,
    /// The face.
    pub identity: Identity,
    /// The facial-nerve condition.
    pub condition: Condition,
}

/// Random-stream numbers, so that identity and condition are drawn
/// independently and a patient keeps its face when its condition is forced.
pub(crate) mod stream {
    pub const IDENTITY: u64 = 1;
    pub const CONDITION: u64 = 2;
    pub const PALSY: u64 = 3;
    pub const DETAIL: u64 = 4;
}

impl Patient {
    /// A patient whose face and condition both come from `seed`: about a third
    /// healthy, a third flaccid and a third synkinetic.
    pub fn random(seed: u64) -> Patient {
        let mut r = rng(seed, stream::CONDITION);
        let kind = *ConditionKind::ALL
            .choose(&mut r)
            .unwrap_or(&ConditionKind::Healthy);
        Patient::with_kind(seed, kind)
    }

    /// The face of `seed` with the given condition.
    pub fn with_condition(seed: u64, condition: Condition) -> Patient {
        let identity = Identity::random(&mut rng(seed, stream::IDENTITY));
        Patient {
            id: format!("vp-{seed:06}"),
            seed,
            identity,
            condition,
        }
    }

    /// The face of `seed` with a condition of `kind`; side, severity and
    /// pattern are drawn from the seed.
    pub fn with_kind(seed: u64, kind: ConditionKind) -> Patient {
        let mut r = rng(seed, stream::CONDITION);
        // Repeat the draw `random` used for the kind, so both paths agree.
        let _ = ConditionKind::ALL.choose(&mut r);
        let side = if r.gen_bool(0.5) {
            Side::Left
        } else {
            Side::Right
        };
        let severity = *Severity::ALL.choose(&mut r).unwrap_or(&Severity::Moderate);
        let pattern = *Pattern::ALL.choose(&mut r).unwrap_or(&Pattern::Both);
        let condition = match kind {
            ConditionKind::Healthy => Condition::Healthy,
            ConditionKind::Flaccid => Condition::Flaccid { side },
            ConditionKind::Synkinetic => Condition::Synkinetic {
                side,
                severity,
                pattern,
            },
        };
        Patient::with_condition(seed, condition)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patients_are_reproducible_and_keep_their_face() {
        let a = Patient::random(42);
        assert_eq!(a, Patient::random(42));
        assert_eq!(a.id, "vp-000042");
        let forced = Patient::with_condition(42, Condition::Healthy);
        assert_eq!(forced.identity, a.identity);
        let b = Patient::with_kind(42, a.condition.kind());
        assert_eq!(b, a);
    }

    #[test]
    fn condition_mix_and_traits_are_spread() {
        let mut kinds = [0usize; 3];
        let mut types = [0usize; 6];
        let mut sides = [0usize; 2];
        let (mut glasses, mut beards) = (0, 0);
        let n = 600;
        for seed in 0..n {
            let p = Patient::random(seed);
            kinds[p.condition.kind() as usize] += 1;
            types[usize::from(p.identity.fitzpatrick - 1)] += 1;
            if let Some(side) = p.condition.side() {
                sides[side as usize] += 1;
            }
            glasses += usize::from(p.identity.glasses);
            beards += usize::from(p.identity.beard);
            assert!((20.0..=80.0).contains(&p.identity.age));
            assert!((1..=6).contains(&p.identity.fitzpatrick));
        }
        assert!(kinds.iter().all(|&k| k > n as usize / 4), "{kinds:?}");
        assert!(types.iter().all(|&k| k > n as usize / 10), "{types:?}");
        assert!(sides[0].abs_diff(sides[1]) < 80, "{sides:?}");
        assert!((60..180).contains(&glasses), "{glasses}");
        assert!((60..180).contains(&beards), "{beards}");
    }

    #[test]
    fn with_kind_gives_that_kind() {
        for seed in 0..30 {
            for &kind in ConditionKind::ALL {
                assert_eq!(Patient::with_kind(seed, kind).condition.kind(), kind);
            }
        }
    }
}
