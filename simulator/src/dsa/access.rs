//! The access layer: every decision about who may do what, to which entry, over which
//! connection. Operations ask here and nowhere else: add (create a child of a class under a
//! parent), modify (write attributes, a password change included), password reset, delete,
//! rename, reads of attributes (secrets, admin-only root key data, msDS-ManagedPassword) and
//! the rule that anonymous callers only read the rootDSE.
//!
//! Every question takes the caller (its token, and the protection of its connection, which
//! [`Caller`] carries), the target entry (the parent for a create), and the right or attribute
//! asked for; the answer is a decision or the [`DsError`] to send. The rules are the outcome of
//! AD's default security descriptors (MS-ADTS 6.1.3 defaultSecurityDescriptor) for the
//! operations adsim serves, each citing what it reproduces; msDS-GroupMSAMembership is already
//! evaluated as a descriptor (MS-DTYP 2.5.3.2 access check). A full SD-based model replaces
//! the fixed roles here, behind the same functions.

use super::caller::{well_known, Caller};
use super::error::{code, DsError, DsResult};
use super::request::ModOp;
use super::request::Modification;
use super::Directory;
use crate::model::{Entry, EntryId};
use crate::schema::{AttributeType, ObjectClass, Schema};
use crate::security::{self, access, extended, SecurityDescriptor, Sid, Token};
use uuid::Uuid;

/// Never returned by a search, never matched by a filter or compare (MS-ADTS 3.1.1.4.4:
/// secret attributes).
pub(crate) const SECRET_ATTRIBUTES: &[&str] = &[
    "unicodepwd",
    "dbcspwd",
    "ntpwdhistory",
    "lmpwdhistory",
    "supplementalcredentials",
    "userpassword",
    "currentvalue",
    "priorvalue",
];

/// Readable only by Domain Admins / Enterprise Admins (MS docs: KDS root key data).
pub(crate) const ADMIN_ONLY_ATTRIBUTES: &[&str] = &["mskds-rootkeydata"];

/// A right asked for on an entry by a write operation.
#[derive(Clone, Copy, Debug)]
pub enum Right<'a> {
    /// Create a child of this structural class (the target is the parent).
    CreateChild { class: &'a str },
    /// Write these modifications (unicodePwd is decided by [`Right::ResetPassword`] /
    /// [`Right::ChangePassword`]; nTSecurityDescriptor by the parts the SD flags name).
    Write { mods: &'a [Modification] },
    /// Reset the password (User-Force-Change-Password).
    ResetPassword,
    /// Change the password, proving the old one (User-Change-Password).
    ChangePassword,
    /// Delete the entry (`parent` is its parent entry).
    Delete { parent: Option<&'a Entry> },
    /// Modify DN: `old_parent` and `new_parent` (the same entry for a rename in place) and
    /// the RDN attribute written.
    Rename {
        old_parent: Option<&'a Entry>,
        new_parent: &'a Entry,
        rdn_attr: &'a str,
    },
}

/// May the caller read msDS-ManagedPassword of an entry on its connection (docs/notes/gmsa-gkdi.md §5)?
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ManagedPasswordRead {
    /// The blob is returned.
    Allowed,
    /// The attribute is omitted (not a gMSA, or not granted by msDS-GroupMSAMembership).
    NotAllowed,
    /// The connection is neither TLS nor SASL-sealed: the whole operation fails
    /// (1 `0000202D`, [`DsError::confidentiality_required`]).
    ConfidentialityRequired,
}

/// Anonymous callers may only read the rootDSE: every other operation needs a bind.
pub fn require_bound(caller: &Caller) -> DsResult<()> {
    if caller.is_anonymous() {
        return Err(DsError::needs_bind());
    }
    Ok(())
}

/// The write rights, decided by the entries' security descriptors (MS-ADTS 3.1.5 "Access
/// checks" of each operation, 5.1.3 rights): `Ok`, or insufficientAccessRights — 50
/// `00002098` from the directory's access check ([`DsError::insufficient_access`]), 50
/// `00000005` when the refused part is the security descriptor or a password reset or change
/// ([`DsError::access_denied`]).
pub fn check(dir: &Directory, caller: &Caller, target: &Entry, right: Right<'_>) -> DsResult<()> {
    if caller.system {
        return Ok(());
    }
    let denied = |granted: bool| {
        if granted {
            Ok(())
        } else {
            Err(DsError::insufficient_access())
        }
    };
    match right {
        Right::CreateChild { class } => denied(may_create(caller, target, class)),
        Right::Write { mods } => match first_denied(dir, caller, target, mods) {
            None => Ok(()),
            Some(m) if m.attr.eq_ignore_ascii_case("nTSecurityDescriptor") => Err(DsError::access_denied()),
            Some(_) => Err(DsError::insufficient_access()),
        },
        Right::Delete { parent } => denied(may_delete(caller, target, parent)),
        Right::Rename {
            old_parent,
            new_parent,
            rdn_attr,
        } => denied(may_rename(caller, target, old_parent, new_parent, rdn_attr)),
        Right::ResetPassword | Right::ChangePassword => {
            let right = if matches!(right, Right::ResetPassword) {
                &extended::USER_FORCE_CHANGE_PASSWORD
            } else {
                &extended::USER_CHANGE_PASSWORD
            };
            if Guard::of(caller, target).control_access(right) {
                Ok(())
            } else {
                Err(DsError::access_denied())
            }
        }
    }
}

/// One entry's descriptor, parsed once, with what the access check needs: the caller's
/// token, the SID PRINCIPAL_SELF stands for (the entry's objectSid) and the entry's class
/// (the root of every object type list, MS-ADTS 5.1.3.3).
pub struct Guard {
    sd: Option<std::sync::Arc<SecurityDescriptor>>,
    token: std::sync::Arc<Token>,
    self_sid: Option<Sid>,
    class: Option<&'static ObjectClass>,
    system: bool,
    /// Attribute decisions already made, by (right, attribute): a search asks the same
    /// questions of every entry that shares this guard ([`Guards`]).
    memo: std::cell::RefCell<std::collections::HashMap<(u32, &'static str), bool, Fnv>>,
    /// [`may_read_attribute`]'s answers, by lower-case attribute name.
    reads: std::cell::RefCell<std::collections::HashMap<String, bool, Fnv>>,
}

/// FNV-1a (64-bit) for the guards' small maps: keys are short attribute names looked up once
/// per attribute of every entry a search returns, where SipHash's setup cost dominates. Not
/// exposed to untrusted sizes: a map holds at most one key per schema attribute.
#[derive(Default, Clone, Copy)]
struct FnvHasher(u64);

impl std::hash::Hasher for FnvHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

type Fnv = std::hash::BuildHasherDefault<FnvHasher>;

impl Guard {
    pub fn of(caller: &Caller, e: &Entry) -> Guard {
        Guard::with_token(caller, token_of(caller), e)
    }

    fn with_token(caller: &Caller, token: std::sync::Arc<Token>, e: &Entry) -> Guard {
        Guard {
            sd: shared_descriptor_of(e),
            token,
            self_sid: e.first("objectSid").and_then(|b| Sid::from_bytes(b).ok()),
            class: e.structural_class().and_then(|c| Schema::ad().class(c)),
            system: caller.system,
            memo: Default::default(),
            reads: Default::default(),
        }
    }

    /// MS-DTYP 2.5.3.2 with the object type list `types` (the class first). An entry without
    /// a descriptor grants nothing but to SYSTEM.
    fn granted(&self, desired: u32, types: &[Uuid]) -> bool {
        if self.system {
            return true;
        }
        let Some(sd) = &self.sd else { return false };
        security::access_check_path(sd, &self.token, desired, types, self.self_sid.as_ref()).is_ok()
    }

    fn class_guid(&self) -> Vec<Uuid> {
        self.class.map(|c| c.schema_id_guid).into_iter().collect()
    }

    /// `desired` on the whole object (no object type beyond the class).
    pub fn object(&self, desired: u32) -> bool {
        self.granted(desired, &self.class_guid())
    }

    /// `desired` (READ_PROPERTY / WRITE_PROPERTY / CONTROL_ACCESS) on one attribute: the list
    /// is {class, property set (attributeSecurityGUID), attribute (schemaIDGUID)}
    /// (MS-ADTS 5.1.3.3.3 / 5.1.3.3.4). An attribute the schema does not know is checked on
    /// the object alone.
    pub fn attribute(&self, desired: u32, attr: &str) -> bool {
        self.attribute_type(desired, Schema::ad().attribute(attr))
    }

    /// [`Guard::attribute`] with the attribute already looked up; decisions on schema
    /// attributes are remembered by (right, attribute).
    pub fn attribute_type(&self, desired: u32, attr: Option<&'static AttributeType>) -> bool {
        if self.system {
            return true;
        }
        let Some(a) = attr else {
            return self.granted(desired, &self.class_guid());
        };
        let key = (desired, a.name);
        if let Some(known) = self.memo.borrow().get(&key) {
            return *known;
        }
        let mut types = self.class_guid();
        types.extend(a.attribute_security_guid);
        types.push(a.schema_id_guid);
        let granted = self.granted(desired, &types);
        self.memo.borrow_mut().insert(key, granted);
        granted
    }

    /// A control access right (MS-ADTS 5.1.3.2.1) or, for validated writes, RIGHT_DS_SELF.
    pub fn control_access(&self, right: &extended::ExtendedRight) -> bool {
        let desired = match right.kind {
            extended::Kind::ValidatedWrite => access::RIGHT_DS_SELF,
            _ => access::RIGHT_DS_CONTROL_ACCESS,
        };
        let mut types = self.class_guid();
        types.push(right.guid);
        self.granted(desired, &types)
    }

    /// CREATE_CHILD / DELETE_CHILD for children of `class` (MS-ADTS 5.1.3.3.2).
    fn child(&self, desired: u32, class: &str) -> bool {
        let mut types = self.class_guid();
        types.extend(Schema::ad().class(class).map(|c| c.schema_id_guid));
        self.granted(desired, &types)
    }
}

/// A descriptor's bytes and the guard every entry with those bytes (and class) shares.
type SharedGuard = (Vec<u8>, std::rc::Rc<Guard>);

/// The guards of one search: entries whose access decisions are the same share one guard,
/// so a descriptor is parsed and each attribute checked once per distinct descriptor rather
/// than once per entry and attribute. Two entries decide alike when their stored descriptors
/// are the same bytes, their structural class is the same, and PRINCIPAL_SELF means the same
/// to the caller (the caller is neither, or the caller is that entry: an ACE for SELF applies
/// only when the token holds the entry's objectSid, MS-DTYP 2.5.3.2).
pub struct Guards<'a> {
    caller: &'a Caller,
    token: std::sync::Arc<Token>,
    shared: std::collections::HashMap<u64, Vec<SharedGuard>>,
}

impl<'a> Guards<'a> {
    pub fn new(caller: &'a Caller) -> Self {
        Guards {
            caller,
            token: token_of(caller),
            shared: Default::default(),
        }
    }

    pub fn of(&mut self, e: &Entry) -> std::rc::Rc<Guard> {
        use std::hash::{Hash, Hasher};
        let is_self = e
            .first("objectSid")
            .and_then(|b| Sid::from_bytes(b).ok())
            .is_some_and(|sid| self.token.contains(&sid));
        let Some(raw) = e.first("nTSecurityDescriptor").filter(|_| !is_self) else {
            return std::rc::Rc::new(Guard::with_token(self.caller, self.token.clone(), e));
        };
        let class = e.structural_class().unwrap_or_default();
        // A cheap bucket key (the descriptor's, and the class name's length); a hit is
        // confirmed by comparing the whole value and the class.
        let mut h = std::collections::hash_map::DefaultHasher::new();
        descriptor_key(raw).hash(&mut h);
        class.len().hash(&mut h);
        let key = h.finish();
        let bucket = self.shared.entry(key).or_default();
        if let Some((_, g)) = bucket.iter().find(|(bytes, g)| {
            bytes.as_slice() == raw
                && g.class
                    .map_or(class.is_empty(), |c| c.name.eq_ignore_ascii_case(class))
        }) {
            return g.clone();
        }
        let mut g = Guard::with_token(self.caller, self.token.clone(), e);
        // Not the caller's own entry: SELF ACEs cannot apply, whichever SID the entry has.
        g.self_sid = None;
        let g = std::rc::Rc::new(g);
        bucket.push((raw.to_vec(), g.clone()));
        g
    }
}

/// The stored nTSecurityDescriptor of an entry.
pub fn descriptor_of(e: &Entry) -> Option<SecurityDescriptor> {
    e.first("nTSecurityDescriptor")
        .and_then(|raw| SecurityDescriptor::from_bytes(raw).ok())
}

/// A cheap key of a stored descriptor's bytes: their length and last 64 bytes (where the
/// DACL's last ACEs, which tell the descriptors of a directory apart, usually are). Equal
/// keys say nothing: a match is confirmed by comparing the whole value.
fn descriptor_key(raw: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    raw.len().hash(&mut h);
    raw[raw.len().saturating_sub(64)..].hash(&mut h);
    h.finish()
}

/// Descriptors a worker thread keeps parsed; past this many it starts again from none.
const PARSED_DESCRIPTORS: usize = 64;

/// A descriptor larger than this is parsed each time, not kept (what the cache holds stays
/// bounded whatever descriptors clients write; the defaults are 1–3 KB).
const PARSED_DESCRIPTOR_MAX_BYTES: usize = 16 * 1024;

/// Stored descriptors recently parsed on this thread, by [`descriptor_key`]: the bytes and
/// what they parse to.
type ParsedDescriptors = std::collections::HashMap<u64, Vec<(Box<[u8]>, std::sync::Arc<SecurityDescriptor>)>>;

thread_local! {
    static PARSED: std::cell::RefCell<(usize, ParsedDescriptors)> = Default::default();
}

/// [`descriptor_of`], read-only and shared: entries have few distinct descriptors (most are
/// their class's default, inherited alike), so each operation's access check need not parse
/// its target's and parent's again. Parsing is a pure function of the bytes; the cache keeps
/// at most [`PARSED_DESCRIPTORS`] per thread.
fn shared_descriptor_of(e: &Entry) -> Option<std::sync::Arc<SecurityDescriptor>> {
    let raw = e.first("nTSecurityDescriptor")?;
    if raw.len() > PARSED_DESCRIPTOR_MAX_BYTES {
        return SecurityDescriptor::from_bytes(raw).ok().map(std::sync::Arc::new);
    }
    let key = descriptor_key(raw);
    PARSED.with_borrow_mut(|(count, parsed)| {
        if let Some((_, sd)) = parsed
            .get(&key)
            .and_then(|b| b.iter().find(|(bytes, _)| **bytes == *raw))
        {
            return Some(sd.clone());
        }
        let sd = std::sync::Arc::new(SecurityDescriptor::from_bytes(raw).ok()?);
        if *count >= PARSED_DESCRIPTORS {
            parsed.clear();
            *count = 0;
        }
        *count += 1;
        parsed.entry(key).or_default().push((raw.into(), sd.clone()));
        Some(sd)
    })
}

/// unicodePwd is written only over an encrypted connection (MS-ADTS 3.1.1.3.1.5.1): else
/// 53 `0000001F`.
pub fn require_encrypted_for_password(caller: &Caller) -> DsResult<()> {
    if caller.encrypted {
        return Ok(());
    }
    Err(DsError::svc(
        code::UNWILLING_TO_PERFORM,
        0x1F,
        5003,
        "WILL_NOT_PERFORM",
        0,
    ))
}

/// Whether a search returns attribute `attr_lower` (lower case) of `target` to the caller
/// (MS-ADTS 3.1.1.4.3): secrets never; KDS root key data to admins only; a confidential
/// attribute (searchFlags fCONFIDENTIAL) needs CONTROL_ACCESS on it, any other READ_PROPERTY;
/// nTSecurityDescriptor READ_CONTROL (MS-ADTS 3.1.1.4.3, 5.1.3.1). `guard` is the target's.
pub fn may_read_attribute(dir: &Directory, caller: &Caller, guard: &Guard, attr_lower: &str) -> bool {
    // The answer depends on the caller, the guard's descriptor, class and SELF, and the
    // attribute: the same for every entry sharing the guard.
    if let Some(known) = guard.reads.borrow().get(attr_lower) {
        return *known;
    }
    let answer = decide_read(dir, caller, guard, attr_lower);
    guard.reads.borrow_mut().insert(attr_lower.to_string(), answer);
    answer
}

fn decide_read(dir: &Directory, caller: &Caller, guard: &Guard, attr_lower: &str) -> bool {
    if !visible_to_filters(attr_lower) {
        return false;
    }
    if ADMIN_ONLY_ATTRIBUTES.contains(&attr_lower) {
        return may_read_root_keys(dir, caller);
    }
    if caller.system {
        return true;
    }
    if attr_lower == "ntsecuritydescriptor" {
        return guard.object(access::READ_CONTROL);
    }
    let a = Schema::ad().attribute(attr_lower);
    match a {
        Some(t) if t.confidential() => guard.attribute_type(access::RIGHT_DS_CONTROL_ACCESS, a),
        Some(t) if t.constructed() => true,
        _ => guard.attribute_type(access::RIGHT_DS_READ_PROPERTY, a),
    }
}

/// Whether filters and compare see an attribute's values at all (secrets are invisible).
pub fn visible_to_filters(attr_lower: &str) -> bool {
    !SECRET_ATTRIBUTES.contains(&attr_lower)
}

/// Whether the caller may read root key secrets (Domain/Enterprise Admins; MS KDS docs).
pub fn may_read_root_keys(dir: &Directory, caller: &Caller) -> bool {
    is_domain_or_enterprise_admin(dir, caller)
}

/// The one answer to "may this caller read msDS-ManagedPassword of this entry on this
/// connection" (docs/notes/gmsa-gkdi.md §5): step 1 the confidentiality check, steps 2-3 the gMSA's
/// msDS-GroupMSAMembership descriptor granting read to the caller's token. SYSTEM passes.
pub fn managed_password_read(caller: &Caller, target: &Entry) -> ManagedPasswordRead {
    use ManagedPasswordRead::*;
    if !target.is_class("msDS-GroupManagedServiceAccount") {
        return NotAllowed;
    }
    if !caller.encrypted {
        return ConfidentialityRequired;
    }
    let Some(sid) = target.first("objectSid").and_then(|b| Sid::from_bytes(b).ok()) else {
        return NotAllowed;
    };
    if caller.system {
        return Allowed;
    }
    let Some(sd) = target
        .first("msDS-GroupMSAMembership")
        .and_then(|raw| SecurityDescriptor::from_bytes(raw).ok())
    else {
        return NotAllowed;
    };
    let granted = security::is_granted(
        &sd,
        &token_of(caller),
        security::access::RIGHT_DS_READ_PROPERTY,
        None,
        Some(&sid),
    );
    if granted {
        Allowed
    } else {
        NotAllowed
    }
}

impl Directory {
    /// Test-ADServiceAccount's question for a principal: may it retrieve the password of
    /// `gmsa` (on the caller's connection)?
    pub fn may_retrieve_managed_password(&self, caller: &Caller, gmsa: EntryId) -> bool {
        let st = self.read();
        st.store
            .get(gmsa)
            .is_some_and(|e| managed_password_read(caller, e) == ManagedPasswordRead::Allowed)
    }
}

/// Domain Admins (512) of any domain, Enterprise Admins (519) or BUILTIN\Administrators.
pub fn is_domain_or_enterprise_admin(dir: &Directory, caller: &Caller) -> bool {
    caller.system
        || caller.has_sid(&well_known::builtin(544))
        || dir
            .forest
            .domains
            .iter()
            .any(|d| caller.has_sid(&d.sid.with_rid(512)))
        || caller.has_sid(&dir.forest.root().sid.with_rid(519))
}

/// Admin of the domain that holds `domain_index` (its Domain Admins, the forest's Enterprise
/// Admins, or BUILTIN\Administrators, which holds both).
pub fn is_admin_of(dir: &Directory, caller: &Caller, domain_index: usize) -> bool {
    caller.system
        || caller.has_sid(&dir.forest.domains[domain_index].sid.with_rid(512))
        || caller.has_sid(&dir.forest.root().sid.with_rid(519))
        || caller.has_sid(&well_known::builtin(544))
}

/// CREATE_CHILD for the class on the parent (MS-ADTS 3.1.5.2.? Add access checks:
/// RIGHT_DS_CREATE_CHILD with the class's schemaIDGUID on the parent).
fn may_create(caller: &Caller, parent: &Entry, class: &str) -> bool {
    Guard::of(caller, parent).child(access::RIGHT_DS_CREATE_CHILD, class)
}

/// MS-ADTS 3.1.5.5 (Delete access checks): DELETE on the object, or DELETE_CHILD for its
/// class on the parent.
fn may_delete(caller: &Caller, target: &Entry, parent: Option<&Entry>) -> bool {
    if Guard::of(caller, target).object(access::DELETE) {
        return true;
    }
    let class = target.structural_class().unwrap_or("top");
    parent.is_some_and(|p| Guard::of(caller, p).child(access::RIGHT_DS_DELETE_CHILD, class))
}

/// MS-ADTS 3.1.5.4 (Modify DN access checks): WRITE_PROPERTY on `name` and on the RDN
/// attribute of the object; for a move also DELETE_CHILD on the old parent (or DELETE on the
/// object) and CREATE_CHILD for the object's class on the new parent.
fn may_rename(
    caller: &Caller,
    target: &Entry,
    old_parent: Option<&Entry>,
    new_parent: &Entry,
    rdn_attr: &str,
) -> bool {
    let guard = Guard::of(caller, target);
    if !guard.attribute(access::RIGHT_DS_WRITE_PROPERTY, "name")
        || !guard.attribute(access::RIGHT_DS_WRITE_PROPERTY, rdn_attr)
    {
        return false;
    }
    if old_parent.is_some_and(|p| p.id == new_parent.id) {
        return true;
    }
    let class = target.structural_class().unwrap_or("top");
    may_delete(caller, target, old_parent) && may_create(caller, new_parent, class)
}

/// WRITE_PROPERTY on each attribute modified (MS-ADTS 3.1.5.3 Modify access checks); when
/// it is refused, the validated writes (MS-ADTS 5.1.3.2.2) may still allow `member` (the
/// caller adding or removing itself: Self-Membership), `servicePrincipalName`
/// (Validated-SPN) and `dNSHostName` (Validated-DNS-Host-Name) values that meet their
/// constraints. unicodePwd is the password path's; nTSecurityDescriptor needs WRITE_DAC /
/// WRITE_OWNER for the parts it replaces (MS-ADTS 3.1.1.3.4.1.11, 5.1.3.1).
/// The first modification the caller may not make, if any.
fn first_denied<'m>(
    dir: &Directory,
    caller: &Caller,
    target: &Entry,
    mods: &'m [Modification],
) -> Option<&'m Modification> {
    let guard = Guard::of(caller, target);
    mods.iter().find(|m| !{
        let key = m.attr.to_ascii_lowercase();
        match key.as_str() {
            "unicodepwd" => true,
            "ntsecuritydescriptor" => {
                let parts = sd_parts(caller.sd_flags);
                (parts & (sd_flags::DACL) == 0 || guard.object(access::WRITE_DAC))
                    && (parts & (sd_flags::OWNER | sd_flags::GROUP) == 0 || guard.object(access::WRITE_OWNER))
                    && (parts & sd_flags::SACL == 0 || is_domain_or_enterprise_admin(dir, caller))
            }
            _ if guard.attribute(access::RIGHT_DS_WRITE_PROPERTY, &key) => true,
            "member" => self_membership(caller, m) && guard.control_access(&extended::SELF_MEMBERSHIP),
            "serviceprincipalname" => {
                valid_spns(dir, target, m) && guard.control_access(&extended::VALIDATED_SPN)
            }
            "dnshostname" => {
                valid_dns_host_name(dir, target, m)
                    && guard.control_access(&extended::VALIDATED_DNS_HOST_NAME)
            }
            _ => false,
        }
    })
}

/// The SD flags bits (MS-ADTS 3.1.1.3.4.1.11): which parts of nTSecurityDescriptor a read
/// returns or a write replaces. Without the control, or with 0, all four.
pub fn sd_parts(flags: Option<u32>) -> u32 {
    let all = sd_flags::OWNER | sd_flags::GROUP | sd_flags::DACL | sd_flags::SACL;
    match flags.map(|f| f & all) {
        None | Some(0) => all,
        Some(f) => f,
    }
}

/// SD flags bits (MS-ADTS 3.1.1.3.4.1.11).
pub mod sd_flags {
    pub const OWNER: u32 = 0x1;
    pub const GROUP: u32 = 0x2;
    pub const DACL: u32 = 0x4;
    pub const SACL: u32 = 0x8;
}

/// A stored descriptor reduced to the parts `flags` names (MS-ADTS 3.1.1.3.4.1.11: the
/// parts not asked for are absent from the returned value).
pub fn descriptor_parts(raw: &[u8], flags: Option<u32>) -> Vec<u8> {
    let parts = sd_parts(flags);
    let Ok(mut sd) = SecurityDescriptor::from_bytes(raw) else {
        return raw.to_vec();
    };
    use crate::security::descriptor::control;
    if parts & sd_flags::OWNER == 0 {
        sd.owner = None;
    }
    if parts & sd_flags::GROUP == 0 {
        sd.group = None;
    }
    if parts & sd_flags::DACL == 0 {
        sd.dacl = None;
        sd.control &= !(control::DACL_PRESENT | control::DACL_AUTO_INHERITED | control::DACL_PROTECTED);
    }
    if parts & sd_flags::SACL == 0 {
        sd.sacl = None;
        sd.control &= !(control::SACL_PRESENT | control::SACL_AUTO_INHERITED | control::SACL_PROTECTED);
    }
    sd.to_bytes().unwrap_or_else(|_| raw.to_vec())
}

/// The descriptor a modify stores when it writes nTSecurityDescriptor: the parts the SD
/// flags name come from `written`, the others stay as `current` has them (MS-ADTS
/// 3.1.1.3.4.1.11). The DACL/SACL written are the explicit ACEs; inheritance is recomputed
/// by the caller.
pub fn merge_descriptor(
    current: Option<&SecurityDescriptor>,
    written: &SecurityDescriptor,
    flags: Option<u32>,
) -> SecurityDescriptor {
    use crate::security::descriptor::control;
    let parts = sd_parts(flags);
    let mut sd = current.cloned().unwrap_or_else(|| written.clone());
    if parts & sd_flags::OWNER != 0 && written.owner.is_some() {
        sd.owner = written.owner.clone();
    }
    if parts & sd_flags::GROUP != 0 && written.group.is_some() {
        sd.group = written.group.clone();
    }
    if parts & sd_flags::DACL != 0 {
        let keep = control::DACL_PRESENT | control::DACL_PROTECTED | control::DACL_AUTO_INHERIT_REQ;
        sd.control = (sd.control & !keep) | (written.control & keep);
        sd.dacl = written.dacl.clone();
    }
    if parts & sd_flags::SACL != 0 {
        let keep = control::SACL_PRESENT | control::SACL_PROTECTED | control::SACL_AUTO_INHERIT_REQ;
        sd.control = (sd.control & !keep) | (written.control & keep);
        sd.sacl = written.sacl.clone();
    }
    sd
}

/// Self-Membership (MS-ADTS 5.1.3.2.2): an add or delete of exactly the caller's own DN.
fn self_membership(caller: &Caller, m: &Modification) -> bool {
    matches!(m.op, ModOp::Add | ModOp::Delete)
        && !m.values.is_empty()
        && m.values.iter().all(|v| {
            crate::model::Dn::parse(&String::from_utf8_lossy(v))
                .ok()
                .is_some_and(|dn| dn.to_string().eq_ignore_ascii_case(&caller.dn))
        })
}

/// The host part of `class/host[:port][/service]`.
fn spn_host(spn: &str) -> Option<&str> {
    let rest = spn.split_once('/')?.1;
    let host = rest.split('/').next()?;
    Some(host.split(':').next().unwrap_or(host))
}

/// The computer's names a validated write may use: its sAMAccountName without `$`, and that
/// name under the domain's DNS name (MS-ADTS 3.1.1.5.3.1.1.4 / 3.1.1.5.3.1.1.5).
fn own_host_names(dir: &Directory, target: &Entry) -> Option<(String, String)> {
    let sam = target
        .first_str("sAMAccountName")?
        .trim_end_matches('$')
        .to_string();
    let dns = dir.forest.domain_of(&target.dn)?.dns_name.clone();
    let fqdn = format!("{sam}.{dns}");
    Some((sam, fqdn))
}

/// Validated-SPN (MS-ADTS 3.1.1.5.3.1.1.4): every value added names the computer itself —
/// its NetBIOS name, its DNS name (the current dNSHostName or sAMAccountName.domain).
fn valid_spns(dir: &Directory, target: &Entry, m: &Modification) -> bool {
    let Some((sam, fqdn)) = own_host_names(dir, target) else {
        return false;
    };
    let current = target.first_str("dNSHostName").unwrap_or_default().to_string();
    m.values.iter().all(|v| {
        let spn = String::from_utf8_lossy(v);
        spn_host(&spn).is_some_and(|h| {
            h.eq_ignore_ascii_case(&sam)
                || h.eq_ignore_ascii_case(&fqdn)
                || (!current.is_empty() && h.eq_ignore_ascii_case(&current))
        })
    })
}

/// Validated-DNS-Host-Name (MS-ADTS 3.1.1.5.3.1.1.5): the value is the computer's
/// sAMAccountName (without `$`) under the domain's DNS name.
fn valid_dns_host_name(dir: &Directory, target: &Entry, m: &Modification) -> bool {
    let Some((_, fqdn)) = own_host_names(dir, target) else {
        return false;
    };
    m.op != ModOp::Increment
        && m.values
            .iter()
            .all(|v| String::from_utf8_lossy(v).eq_ignore_ascii_case(&fqdn))
}

/// Tokens a worker thread keeps built, for the callers it served last.
const BUILT_TOKENS: usize = 8;

/// The callers' SIDs (account, token) and the tokens built from them, oldest first.
type BuiltTokens = Vec<((Option<Sid>, Vec<Sid>), std::sync::Arc<Token>)>;

thread_local! {
    static TOKENS: std::cell::RefCell<BuiltTokens> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The caller's token as the access check reads it (anonymous when it has no SID). A token is
/// a function of the caller's SIDs; the last few built on this thread are reused (a
/// connection's requests come from the same caller), which spares a copy of every SID per
/// access check.
fn token_of(caller: &Caller) -> std::sync::Arc<Token> {
    TOKENS.with_borrow_mut(|built| {
        if let Some((_, token)) = built
            .iter()
            .find(|((sid, sids), _)| *sid == caller.sid && *sids == caller.token)
        {
            return token.clone();
        }
        let user = caller.sid.clone().unwrap_or_else(well_known::anonymous);
        let token = std::sync::Arc::new(Token::new(user, caller.token.iter().cloned()));
        if built.len() >= BUILT_TOKENS {
            built.remove(0);
        }
        built.push(((caller.sid.clone(), caller.token.clone()), token.clone()));
        token
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsa::request::ModOp;
    use crate::dsa::testing::*;

    #[test]
    fn anonymous_callers_need_a_bind() {
        let dir = forest();
        let e = require_bound(&Caller::anonymous()).unwrap_err();
        assert_eq!(e.code, code::OPERATIONS_ERROR);
        assert!(e.text.starts_with("000004DC: LdapErr"), "{e:?}");
        require_bound(&caller(&dir, ALICE)).unwrap();
    }

    fn denied(r: DsResult<()>) {
        assert_eq!(r.unwrap_err(), DsError::insufficient_access());
    }

    #[test]
    fn create_child_follows_the_well_known_descriptors() {
        let dir = forest();
        let users = entry(&dir, &format!("CN=Users,{BASE}"));
        let computers = entry(&dir, &format!("CN=Computers,{BASE}"));
        let builtin = entry(&dir, &format!("CN=Builtin,{BASE}"));
        let config = entry(&dir, &dir.forest.config_dn.to_string());
        let (admin, ops, alice) = (admin(&dir), caller(&dir, OPS), caller(&dir, ALICE));
        let create =
            |who: &Caller, parent: &Entry, class| check(&dir, who, parent, Right::CreateChild { class });
        create(&admin, &users, "msDS-GroupManagedServiceAccount").unwrap();
        create(&admin, &config, "container").unwrap();
        // CN=Users: Account Operators create users, groups and inetOrgPersons; CN=Computers
        // computers too (the well-known SDs, docs/fidelity.md).
        create(&ops, &users, "user").unwrap();
        create(&ops, &users, "group").unwrap();
        create(&ops, &computers, "computer").unwrap();
        for (who, parent, class) in [
            (&ops, &builtin, "user"),
            (&ops, &users, "msDS-GroupManagedServiceAccount"),
            (&ops, &users, "computer"),
            (&ops, &config, "container"),
            (&alice, &users, "user"),
        ] {
            let e = create(who, parent, class).unwrap_err();
            assert_eq!(e.code, code::INSUFFICIENT_ACCESS_RIGHTS);
            assert!(e.text.starts_with("00002098: SecErr"), "{e:?}");
        }
    }

    #[test]
    fn write_rights_come_from_the_descriptor() {
        let dir = forest();
        let (alice_e, ops_e) = (entry(&dir, ALICE), entry(&dir, OPS));
        let users = entry(&dir, &format!("CN=Users,{BASE}"));
        let (admin, ops, alice) = (admin(&dir), caller(&dir, OPS), caller(&dir, ALICE));
        let desc = [m(ModOp::Replace, "description", s("x"))];
        let phone = [m(ModOp::Replace, "telephoneNumber", s("1"))];
        let uac = [m(ModOp::Replace, "userAccountControl", s("514"))];
        check(&dir, &ops, &alice_e, Right::Write { mods: &desc }).unwrap();
        check(&dir, &admin, &alice_e, Right::Write { mods: &uac }).unwrap();
        // PRINCIPAL_SELF: the user default SD lets a user write its Personal-Information
        // (telephoneNumber), not its description or userAccountControl.
        check(&dir, &alice, &alice_e, Right::Write { mods: &phone }).unwrap();
        denied(check(&dir, &alice, &alice_e, Right::Write { mods: &desc }));
        denied(check(&dir, &alice, &alice_e, Right::Write { mods: &uac }));
        denied(check(&dir, &alice, &ops_e, Right::Write { mods: &phone }));
        // The hole of issue 11: a user may not delete, rename or move itself.
        denied(check(
            &dir,
            &alice,
            &alice_e,
            Right::Delete { parent: Some(&users) },
        ));
        let dcs = entry(&dir, &format!("OU=Domain Controllers,{BASE}"));
        fn rename<'a>(from: &'a Entry, to: &'a Entry) -> Right<'a> {
            Right::Rename {
                old_parent: Some(from),
                new_parent: to,
                rdn_attr: "cn",
            }
        }
        denied(check(&dir, &alice, &alice_e, rename(&users, &users)));
        denied(check(&dir, &alice, &alice_e, rename(&users, &dcs)));
        check(&dir, &ops, &alice_e, Right::Delete { parent: Some(&users) }).unwrap();
        check(&dir, &ops, &alice_e, rename(&users, &users)).unwrap();
        // Moving needs create-child on the new parent: Account Operators have none on DCs.
        denied(check(&dir, &ops, &alice_e, rename(&users, &dcs)));
    }

    #[test]
    fn password_rights_are_control_access_rights() {
        let dir = forest();
        let (alice_e, ops_e) = (entry(&dir, ALICE), entry(&dir, OPS));
        let (ops, alice) = (caller(&dir, OPS), caller(&dir, ALICE));
        check(&dir, &admin(&dir), &alice_e, Right::ResetPassword).unwrap();
        check(&dir, &ops, &alice_e, Right::ResetPassword).unwrap();
        check(&dir, &Caller::system(), &alice_e, Right::ResetPassword).unwrap();
        // User-Change-Password is granted to Everyone by the user default SD.
        check(&dir, &alice, &alice_e, Right::ChangePassword).unwrap();
        check(&dir, &alice, &ops_e, Right::ChangePassword).unwrap();
        // The password paths answer ERROR_ACCESS_DENIED (00000005), not 00002098.
        for target in [&alice_e, &ops_e] {
            let e = check(&dir, &alice, target, Right::ResetPassword).unwrap_err();
            assert_eq!(e, DsError::access_denied());
        }
    }

    #[test]
    fn an_explicit_grant_and_a_deny() {
        use crate::security::sddl;
        let dir = forest();
        let alice = caller(&dir, ALICE);
        let ops_e = entry(&dir, OPS);
        let ctx = crate::security::AliasDomains::single(dir.forest.domains[0].sid.clone());
        let alice_sid = alice.sid.clone().unwrap();
        let with = |aces: &str| {
            let mut e = (*ops_e).clone();
            let mut sd = descriptor_of(&e).unwrap();
            let extra = sddl::parse(&format!("D:{aces}"), &ctx).unwrap();
            let mut all = extra.dacl.unwrap().aces;
            all.extend(sd.dacl.take().unwrap().aces);
            sd.dacl = Some(crate::security::Acl::new(all));
            // As a write stores it: generic rights mapped (MS-DTYP 2.5.3.4).
            let sd = crate::security::inherit::reinherit(None, &sd, &[]);
            e.set("nTSecurityDescriptor", vec![sd.to_bytes().unwrap()]);
            e
        };
        let uac = [m(ModOp::Replace, "userAccountControl", s("514"))];
        let pls = [m(ModOp::Replace, "pwdLastSet", s("0"))];
        let desc = [m(ModOp::Replace, "description", s("x"))];
        // Property set User-Account-Restrictions covers userAccountControl and pwdLastSet.
        let e = with(&format!(
            "(OA;;WP;4c164200-20c0-11d0-a768-00aa006e0529;;{alice_sid})"
        ));
        check(&dir, &alice, &e, Right::Write { mods: &uac }).unwrap();
        check(&dir, &alice, &e, Right::Write { mods: &pls }).unwrap();
        denied(check(&dir, &alice, &e, Right::Write { mods: &desc }));
        // Reset Password by its rightsGuid.
        let e = with(&format!(
            "(OA;;CR;00299570-246d-11d0-a768-00aa006e0529;;{alice_sid})"
        ));
        check(&dir, &alice, &e, Right::ResetPassword).unwrap();
        // Deny before allow: an explicit deny on pwdLastSet beats the property-set grant.
        let e = with(&format!(
            "(OD;;WP;bf967a0a-0de6-11d0-a285-00aa003049e2;;{alice_sid})(OA;;WP;4c164200-20c0-11d0-a768-00aa006e0529;;{alice_sid})"
        ));
        denied(check(&dir, &alice, &e, Right::Write { mods: &pls }));
        check(&dir, &alice, &e, Right::Write { mods: &uac }).unwrap();
        // GenericAll.
        let e = with(&format!("(A;;GA;;;{alice_sid})"));
        check(&dir, &alice, &e, Right::Write { mods: &desc }).unwrap();
        check(&dir, &alice, &e, Right::Delete { parent: None }).unwrap();
    }

    #[test]
    fn validated_writes_and_self_membership() {
        let dir = forest();
        let alice = caller(&dir, ALICE);
        let group = entry(&dir, &format!("CN=Domain Users,CN=Users,{BASE}"));
        let sid = alice.sid.clone().unwrap();
        let ctx = crate::security::AliasDomains::single(dir.forest.domains[0].sid.clone());
        let mut g = (*group).clone();
        let sd = crate::security::sddl::parse(
            &format!("O:DAG:DAD:(OA;;SW;bf9679c0-0de6-11d0-a285-00aa003049e2;;{sid})"),
            &ctx,
        )
        .unwrap();
        g.set("nTSecurityDescriptor", vec![sd.to_bytes().unwrap()]);
        let me = [m(ModOp::Add, "member", s(ALICE))];
        let other = [m(ModOp::Add, "member", s(OPS))];
        check(&dir, &alice, &g, Right::Write { mods: &me }).unwrap();
        denied(check(&dir, &alice, &g, Right::Write { mods: &other }));
        // A computer writes its own SPNs and DNS name (Validated-SPN / -DNS-Host-Name to SELF).
        let web01 = caller(&dir, WEB01);
        let web = entry(&dir, WEB01);
        let fqdn = format!("WEB01.{}", dir.forest.domains[0].dns_name);
        let spn = [m(ModOp::Add, "servicePrincipalName", s(&format!("HTTP/{fqdn}")))];
        let bad_spn = [m(
            ModOp::Add,
            "servicePrincipalName",
            s("HTTP/dc01.corp.example.test"),
        )];
        let dns = [m(ModOp::Replace, "dNSHostName", s(&fqdn))];
        let bad_dns = [m(ModOp::Replace, "dNSHostName", s("other.example.test"))];
        check(&dir, &web01, &web, Right::Write { mods: &spn }).unwrap();
        check(&dir, &web01, &web, Right::Write { mods: &dns }).unwrap();
        denied(check(&dir, &web01, &web, Right::Write { mods: &bad_spn }));
        denied(check(&dir, &web01, &web, Right::Write { mods: &bad_dns }));
    }

    #[test]
    fn descriptor_parts_follow_the_sd_flags() {
        let dir = forest();
        let e = entry(&dir, ALICE);
        let raw = e.first("nTSecurityDescriptor").unwrap();
        let dacl_only = SecurityDescriptor::from_bytes(&descriptor_parts(raw, Some(sd_flags::DACL))).unwrap();
        assert!(dacl_only.owner.is_none() && dacl_only.group.is_none() && dacl_only.dacl.is_some());
        let all = SecurityDescriptor::from_bytes(&descriptor_parts(raw, None)).unwrap();
        assert!(all.owner.is_some() && all.dacl.is_some());
        // A write of the DACL alone keeps the owner.
        let written = dacl_only.clone();
        let merged = merge_descriptor(Some(&all), &written, Some(sd_flags::DACL));
        assert_eq!(merged.owner, all.owner);
    }

    #[test]
    fn passwords_are_written_only_over_encrypted_connections() {
        let dir = forest();
        let alice = caller(&dir, ALICE);
        require_encrypted_for_password(&alice).unwrap();
        let e = require_encrypted_for_password(&alice.with_encryption(false)).unwrap_err();
        assert_eq!(e.code, code::UNWILLING_TO_PERFORM);
        assert!(e.text.starts_with("0000001F: SvcErr"), "{e:?}");
    }

    #[test]
    fn reads_need_read_property_and_confidential_attributes_control_access() {
        let dir = forest();
        let alice_e = entry(&dir, ALICE);
        let (admin, alice) = (admin(&dir), caller(&dir, ALICE));
        let (ga, gu) = (Guard::of(&admin, &alice_e), Guard::of(&alice, &alice_e));
        assert!(!may_read_attribute(&dir, &admin, &ga, "unicodepwd"));
        assert!(!visible_to_filters("unicodepwd"));
        assert!(visible_to_filters("description"));
        assert!(may_read_attribute(&dir, &alice, &gu, "description"));
        assert!(may_read_attribute(&dir, &admin, &ga, "mskds-rootkeydata"));
        assert!(!may_read_attribute(&dir, &alice, &gu, "mskds-rootkeydata"));
        assert!(may_read_root_keys(&dir, &admin) && !may_read_root_keys(&dir, &alice));
        // Confidential (searchFlags 0x80): needs CONTROL_ACCESS, which admins hold.
        assert!(Schema::ad()
            .attribute("msPKIRoamingTimeStamp")
            .unwrap()
            .confidential());
        assert!(may_read_attribute(&dir, &admin, &ga, "mspkiroamingtimestamp"));
        let other = Guard::of(&alice, &entry(&dir, OPS));
        assert!(!may_read_attribute(&dir, &alice, &other, "mspkiroamingtimestamp"));
        assert!(may_read_attribute(&dir, &alice, &other, "samaccountname"));
    }

    /// A descriptor is parsed once per thread for every entry that stores the same bytes;
    /// what the cache hands out is what parsing gives, and other bytes get their own.
    #[test]
    fn stored_descriptors_are_parsed_once_per_thread() {
        let dir = forest();
        let (alice, ops) = (entry(&dir, ALICE), entry(&dir, OPS));
        let raw = |e: &Entry| e.first("nTSecurityDescriptor").unwrap().to_vec();
        assert_eq!(
            raw(&alice),
            raw(&ops),
            "two users with their class's default descriptor"
        );
        let (a, o) = (
            shared_descriptor_of(&alice).unwrap(),
            shared_descriptor_of(&ops).unwrap(),
        );
        assert!(std::sync::Arc::ptr_eq(&a, &o));
        assert_eq!(*a, descriptor_of(&alice).unwrap());
        let domain = entry(&dir, BASE);
        assert_ne!(raw(&domain), raw(&alice));
        let d = shared_descriptor_of(&domain).unwrap();
        assert!(!std::sync::Arc::ptr_eq(&a, &d));
        assert_eq!(*d, descriptor_of(&domain).unwrap());
        // Past the bound the cache starts again: the answers stay the same.
        for i in 0..2 * PARSED_DESCRIPTORS {
            let mut sd = descriptor_of(&alice).unwrap();
            sd.rm_control = i as u8;
            let bytes = sd.to_bytes().unwrap();
            let mut other = (*alice).clone();
            other.set("nTSecurityDescriptor", vec![bytes.clone()]);
            let parsed = shared_descriptor_of(&other).unwrap();
            assert_eq!(*parsed, SecurityDescriptor::from_bytes(&bytes).unwrap());
            assert_eq!(parsed.rm_control, i as u8);
        }
        assert_eq!(*shared_descriptor_of(&ops).unwrap(), descriptor_of(&ops).unwrap());
        // A large descriptor is parsed, not kept.
        let mut large = descriptor_of(&alice).unwrap();
        let ace = large.dacl.as_ref().unwrap().aces[0].clone();
        let mut bytes = large.to_bytes().unwrap();
        while bytes.len() <= PARSED_DESCRIPTOR_MAX_BYTES {
            let aces = &mut large.dacl.as_mut().unwrap().aces;
            aces.extend(std::iter::repeat_n(ace.clone(), 50));
            bytes = large.to_bytes().unwrap();
        }
        assert!(bytes.len() > PARSED_DESCRIPTOR_MAX_BYTES);
        let mut other = (*alice).clone();
        other.set("nTSecurityDescriptor", vec![bytes]);
        let (once, twice) = (
            shared_descriptor_of(&other).unwrap(),
            shared_descriptor_of(&other).unwrap(),
        );
        assert_eq!(*once, large);
        assert!(!std::sync::Arc::ptr_eq(&once, &twice));
    }

    /// A caller's token is built once per thread while it keeps calling; it is what the
    /// caller's SIDs make, and a caller with other SIDs gets its own.
    #[test]
    fn tokens_are_built_once_per_caller_and_thread() {
        let dir = forest();
        let (admin, alice) = (admin(&dir), caller(&dir, ALICE));
        let built = |c: &Caller| {
            Token::new(
                c.sid.clone().unwrap_or_else(well_known::anonymous),
                c.token.iter().cloned(),
            )
        };
        let first = token_of(&admin);
        assert!(std::sync::Arc::ptr_eq(&first, &token_of(&admin.clone())));
        assert_eq!(*first, built(&admin));
        let other = token_of(&alice);
        assert_eq!(*other, built(&alice));
        assert_ne!(*other, *first);
        let mut more = alice.clone();
        more.token.push(well_known::anonymous());
        assert_eq!(*token_of(&more), built(&more));
        assert_ne!(*token_of(&more), *other);
        assert_eq!(*token_of(&Caller::anonymous()), built(&Caller::anonymous()));
        for _ in 0..2 * BUILT_TOKENS {
            let mut c = alice.clone();
            c.token.push(crate::security::Sid::new(5, &[21, rand_rid()]));
            assert_eq!(*token_of(&c), built(&c));
        }
        assert_eq!(*token_of(&admin), built(&admin));
    }

    /// A different RID each call, for SIDs no other test uses.
    fn rand_rid() -> u32 {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(70_000);
        NEXT.fetch_add(1, Ordering::Relaxed)
    }

    #[test]
    fn entries_with_the_same_descriptor_share_one_guard() {
        let dir = forest();
        let sys = Caller::system();
        let ou = format!("OU=Shared,{BASE}");
        dir.add(&sys, &ou, vec![("objectClass".into(), s("organizationalUnit"))])
            .unwrap();
        for n in ["u1", "u2"] {
            dir.add(
                &sys,
                &format!("CN={n},{ou}"),
                vec![("objectClass".into(), s("user")), ("sAMAccountName".into(), s(n))],
            )
            .unwrap();
        }
        let (u1, u2) = (
            entry(&dir, &format!("CN=u1,{ou}")),
            entry(&dir, &format!("CN=u2,{ou}")),
        );
        assert_eq!(u1.first("nTSecurityDescriptor"), u2.first("nTSecurityDescriptor"));
        let alice = caller(&dir, ALICE);
        let mut guards = Guards::new(&alice);
        let (g1, g2) = (guards.of(&u1), guards.of(&u2));
        assert!(std::rc::Rc::ptr_eq(&g1, &g2));
        // Not shared with a different class, nor with the caller's own entry (SELF applies).
        assert!(!std::rc::Rc::ptr_eq(&g1, &guards.of(&entry(&dir, &ou))));
        let me = entry(&dir, ALICE);
        let (m1, m2) = (guards.of(&me), guards.of(&me));
        assert!(!std::rc::Rc::ptr_eq(&m1, &m2));
        // The shared guard answers as a fresh one does.
        for attr in [
            "description",
            "telephonenumber",
            "samaccountname",
            "mspkiroamingtimestamp",
        ] {
            assert_eq!(
                may_read_attribute(&dir, &alice, &g1, attr),
                may_read_attribute(&dir, &alice, &Guard::of(&alice, &u2), attr),
                "{attr}"
            );
        }
        // Alice writes her own telephoneNumber through SELF, not u1's.
        assert!(m1.attribute(access::RIGHT_DS_WRITE_PROPERTY, "telephoneNumber"));
        assert!(!g1.attribute(access::RIGHT_DS_WRITE_PROPERTY, "telephoneNumber"));
    }

    #[test]
    fn managed_password_read_decisions() {
        let dir = forest();
        let (gmsa, user) = (entry(&dir, SVC_WEB), entry(&dir, ALICE));
        let (web01, web02) = (caller(&dir, WEB01), caller(&dir, WEB02));
        assert_eq!(managed_password_read(&web01, &gmsa), ManagedPasswordRead::Allowed);
        assert_eq!(
            managed_password_read(&Caller::system(), &gmsa),
            ManagedPasswordRead::Allowed
        );
        assert_eq!(
            managed_password_read(&web02, &gmsa),
            ManagedPasswordRead::NotAllowed
        );
        // An administrator is not in msDS-GroupMSAMembership either.
        assert_eq!(
            managed_password_read(&admin(&dir), &gmsa),
            ManagedPasswordRead::NotAllowed
        );
        assert_eq!(
            managed_password_read(&web01.clone().with_encryption(false), &gmsa),
            ManagedPasswordRead::ConfidentialityRequired
        );
        // Not a gMSA: omitted, whatever the connection.
        assert_eq!(
            managed_password_read(&web01.clone().with_encryption(false), &user),
            ManagedPasswordRead::NotAllowed
        );
        assert!(dir.may_retrieve_managed_password(&web01, gmsa.id));
        assert!(!dir.may_retrieve_managed_password(&web02, gmsa.id));
        assert!(!dir.may_retrieve_managed_password(&web01, user.id));
    }
}
