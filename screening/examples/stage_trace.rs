//! Prints a fingerprint of every stage of the pipeline for a few virtual
//! patients: the rendered frame, the detection, the landmarks, the standard
//! view and the classifier's logits. Run it on two machines (or under
//! qemu-user) and diff the outputs to find the first stage where an ARM
//! build parts from the x86_64 one.
//!
//! `cargo run -p screening --example stage_trace [models_dir]`
//! `scripts/cross-build.sh aarch64 run -p screening --example stage_trace`

use std::path::PathBuf;

use screening::classifier::{Classifier, Variant};
use screening::face::FaceStage;
use screening::model::{default_models_dir, Manifest};
use virtual_patient::{self as synth, ConditionKind, Patient};

/// FNV-1a over bytes: enough to see whether two buffers are identical.
fn fnv(bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn fnv_f32(values: impl IntoIterator<Item = f32>) -> u64 {
    fnv(values.into_iter().flat_map(|v| v.to_bits().to_le_bytes()))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(default_models_dir);
    let manifest = Manifest::load(&dir)?;
    let stage = FaceStage::from_manifest(&manifest)?;
    let f32_net = Classifier::load(&manifest, Variant::F32)?;
    let int8_net = Classifier::load(&manifest, Variant::Int8)?;

    for (kind, seed) in [
        (ConditionKind::Synkinetic, 7),
        (ConditionKind::Healthy, 7),
        (ConditionKind::Flaccid, 7),
    ] {
        let patient = Patient::with_kind(seed, kind);
        for shot in synth::series(&patient, seed, 640, 480) {
            let e = shot.truth.expression;
            let frame = &shot.image;
            println!("{kind:?} {seed} {e:?}");
            println!("  frame {:016x}", fnv(frame.as_raw().iter().copied()));
            let a = stage.analyse(frame, None)?;
            let Some(face) = a.face() else {
                println!("  no face");
                continue;
            };
            println!(
                "  detection {:016x} box {:?}",
                fnv_f32(
                    [face.bbox.x, face.bbox.y, face.bbox.width, face.bbox.height]
                        .into_iter()
                        .chain(face.keypoints.iter().flat_map(|p| [p.x, p.y]))
                ),
                face.bbox
            );
            if let Some(l) = &a.landmarks {
                println!(
                    "  landmarks {:016x} first {:?}",
                    fnv_f32(l.points.iter().flatten().copied()),
                    l.points[0]
                );
            }
            let Some(al) = &a.aligned else {
                println!("  not aligned");
                continue;
            };
            println!(
                "  transform {:016x} {:?}",
                fnv_f32([
                    al.transform.a,
                    al.transform.b,
                    al.transform.tx,
                    al.transform.ty
                ]),
                al.transform
            );
            println!("  view {:016x}", fnv(al.image.as_raw().iter().copied()));
            for net in [&f32_net, &int8_net] {
                let c = net.classify(&al.image)?;
                println!(
                    "  {} logits {:?} probability {:.6}",
                    net.variant().name(),
                    c.logits,
                    c.probability
                );
            }
        }
    }
    Ok(())
}
