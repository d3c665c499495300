//! Property tests: binary round trips for random descriptors, SDDL round trips for the ones SDDL
//! can express, and decoders that never panic on arbitrary input.

use adsim_simulator::security::acl::{Ace, AceFlags, AceType, Acl, OpaqueAce, StandardAce};
use adsim_simulator::security::descriptor::{control, Part, SecurityDescriptor, WINDOWS_LAYOUT};
use adsim_simulator::security::{sddl, SddlContext, Sid};
use proptest::prelude::*;
use uuid::Uuid;

const DOMAIN: &str = "S-1-5-21-1-2-3";

fn any_sid() -> impl Strategy<Value = Sid> {
    let authority = prop_oneof![0u64..=18, 0u64..(1u64 << 48)];
    (authority, prop::collection::vec(any::<u32>(), 0..=15)).prop_map(|(a, subs)| Sid::new(a, &subs))
}

/// SIDs an AD descriptor typically holds: well-known ones, domain accounts, random ones.
fn ad_sid() -> impl Strategy<Value = Sid> {
    let domain: Sid = DOMAIN.parse().unwrap();
    prop_oneof![
        prop::sample::select(vec![
            "S-1-1-0",
            "S-1-5-18",
            "S-1-5-32-544",
            "S-1-5-10",
            "S-1-5-9",
            "S-1-3-0"
        ])
        .prop_map(|s| s.parse::<Sid>().unwrap()),
        (495u32..530).prop_map(move |rid| domain.with_rid(rid)),
        any_sid(),
    ]
}

fn any_guid() -> impl Strategy<Value = Uuid> {
    any::<u128>().prop_map(Uuid::from_u128)
}

fn standard_ace(sid: impl Strategy<Value = Sid>, sddl_safe: bool) -> impl Strategy<Value = StandardAce> {
    let flags = if sddl_safe {
        // Every flag with an SDDL letter (0x20, CRITICAL, has none).
        any::<u8>().prop_map(|f| f & !0x20).boxed()
    } else {
        any::<u8>().boxed()
    };
    let extra_words = if sddl_safe { 0..=0usize } else { 0..=2usize };
    (
        prop::sample::select(AceType::ALL.to_vec()),
        flags,
        any::<u32>(),
        prop::option::of(any_guid()),
        prop::option::of(any_guid()),
        sid,
        extra_words.prop_flat_map(|w| prop::collection::vec(any::<u8>(), w * 4)),
    )
        .prop_map(|(ace_type, flags, mask, ot, iot, sid, extra)| StandardAce {
            ace_type,
            flags: AceFlags(flags),
            mask,
            object_type: ot.filter(|_| ace_type.is_object()),
            inherited_object_type: iot.filter(|_| ace_type.is_object()),
            sid,
            extra,
        })
}

fn opaque_ace() -> impl Strategy<Value = OpaqueAce> {
    let unknown_type = any::<u8>().prop_filter("not a decoded type", |t| AceType::from_code(*t).is_none());
    (
        unknown_type,
        any::<u8>(),
        (0..=5usize).prop_flat_map(|w| prop::collection::vec(any::<u8>(), w * 4)),
    )
        .prop_map(|(ace_type, flags, body)| OpaqueAce {
            ace_type,
            flags: AceFlags(flags),
            body,
        })
}

fn any_acl() -> impl Strategy<Value = Acl> {
    let ace = prop_oneof![
        4 => standard_ace(any_sid(), false).prop_map(Ace::Standard),
        1 => opaque_ace().prop_map(Ace::Opaque),
    ];
    (
        prop::sample::select(vec![2u8, 4]),
        prop::collection::vec(ace, 0..6),
        prop::collection::vec(any::<u8>(), 0..6),
    )
        .prop_map(|(revision, aces, trailing)| Acl {
            revision,
            aces,
            trailing,
        })
}

fn any_layout() -> impl Strategy<Value = [Part; 4]> {
    Just(WINDOWS_LAYOUT.to_vec())
        .prop_shuffle()
        .prop_map(|v| [v[0], v[1], v[2], v[3]])
}

fn any_descriptor() -> impl Strategy<Value = SecurityDescriptor> {
    (
        any::<u16>(),
        any::<u8>(),
        prop::option::of(any_sid()),
        prop::option::of(any_sid()),
        prop::option::of(any_acl()),
        prop::option::of(any_acl()),
        any_layout(),
    )
        .prop_map(
            |(ctl, rm_control, owner, group, sacl, dacl, layout)| SecurityDescriptor {
                control: ctl | control::SELF_RELATIVE,
                rm_control,
                owner,
                group,
                sacl,
                dacl,
                layout,
            },
        )
}

/// Descriptors SDDL can express exactly: standard ACEs only, ACL revision as Windows picks it,
/// only control bits that have SDDL letters, Windows layout.
/// One SDDL ACL section: (present, P/AR/AI flag bits, the ACL or NULL).
fn sddl_section() -> impl Strategy<Value = (bool, u8, Option<Acl>)> {
    let acl =
        prop::collection::vec(standard_ace(ad_sid(), true).prop_map(Ace::Standard), 0..5).prop_map(Acl::new);
    (any::<bool>(), 0u8..8, prop::option::weighted(0.9, acl))
}

fn sddl_descriptor() -> impl Strategy<Value = SecurityDescriptor> {
    (
        prop::option::of(ad_sid()),
        prop::option::of(ad_sid()),
        sddl_section(),
        sddl_section(),
    )
        .prop_map(
            |(owner, group, (d_present, d_flags, dacl), (s_present, s_flags, sacl))| {
                let mut ctl = control::SELF_RELATIVE;
                let bits = |flags: u8, p: u16, ar: u16, ai: u16| {
                    (if flags & 1 != 0 { p } else { 0 })
                        | (if flags & 2 != 0 { ar } else { 0 })
                        | (if flags & 4 != 0 { ai } else { 0 })
                };
                if d_present {
                    ctl |= control::DACL_PRESENT
                        | bits(
                            d_flags,
                            control::DACL_PROTECTED,
                            control::DACL_AUTO_INHERIT_REQ,
                            control::DACL_AUTO_INHERITED,
                        );
                }
                if s_present {
                    ctl |= control::SACL_PRESENT
                        | bits(
                            s_flags,
                            control::SACL_PROTECTED,
                            control::SACL_AUTO_INHERIT_REQ,
                            control::SACL_AUTO_INHERITED,
                        );
                }
                SecurityDescriptor {
                    control: ctl,
                    rm_control: 0,
                    owner,
                    group,
                    sacl: sacl.filter(|_| s_present),
                    dacl: dacl.filter(|_| d_present),
                    layout: WINDOWS_LAYOUT,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn binary_round_trip(sd in any_descriptor()) {
        let bytes = sd.to_bytes().unwrap();
        let back = SecurityDescriptor::from_bytes(&bytes).unwrap();
        prop_assert_eq!(&back, &sd);
        prop_assert_eq!(back.to_bytes().unwrap(), bytes);
    }

    #[test]
    fn sddl_round_trip(sd in sddl_descriptor()) {
        let ctx = SddlContext::single(DOMAIN.parse().unwrap());
        let text = sddl::format(&sd, &ctx).unwrap();
        let parsed = sddl::parse(&text, &ctx).unwrap();
        prop_assert_eq!(&parsed, &sd, "{}", text);
        let from_bytes = SecurityDescriptor::from_bytes(&sd.to_bytes().unwrap()).unwrap();
        prop_assert_eq!(sddl::format(&from_bytes, &ctx).unwrap(), text);
    }

    #[test]
    fn decoding_random_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        check_decodes_stably(&bytes)?;
    }

    #[test]
    fn decoding_corrupted_descriptors_never_panics(
        sd in any_descriptor(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = sd.to_bytes().unwrap();
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        let keep = cut.index(bytes.len() + 1);
        check_decodes_stably(&bytes)?;
        check_decodes_stably(&bytes[..keep])?;
    }

    #[test]
    fn parsing_random_sddl_never_panics(text in "[OGDSAPIRCNUWXYZ:;()0-9a-fx\\-é ]{0,80}") {
        let ctx = SddlContext::single(DOMAIN.parse().unwrap());
        if let Ok(sd) = sddl::parse(&text, &ctx) {
            // Whatever parses formats and re-parses to the same descriptor.
            let again = sddl::parse(&sddl::format(&sd, &ctx).unwrap(), &ctx).unwrap();
            prop_assert_eq!(again, sd);
        }
    }
}

/// Decoding either fails or yields a descriptor that re-encodes and decodes to itself.
fn check_decodes_stably(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(sd) = SecurityDescriptor::from_bytes(bytes) {
        let again = sd.to_bytes().expect("a decoded descriptor re-encodes");
        prop_assert_eq!(SecurityDescriptor::from_bytes(&again).unwrap(), sd);
    }
    let _ = Acl::from_bytes(bytes);
    Ok(())
}
