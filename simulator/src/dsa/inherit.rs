//! Security descriptors of directory entries as they are created, moved and re-parented:
//! the bridge between entries and the pure algorithm of `security::inherit` (MS-DTYP
//! 2.5.3.4), plus the possSuperiors rule a move must meet (MS-ADTS 3.1.1.5.4.1.2).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use uuid::Uuid;

use super::access::descriptor_of;
use super::caller::Caller;
use super::{DirState, Directory};
use crate::model::{Attr, Entry, EntryId};
use crate::schema::Schema;
use crate::security::inherit::{self, Child};
use crate::security::{SecurityDescriptor, Sid};

/// The schemaIDGUIDs of an entry's classes (its objectClass chain), which an inheritable
/// object ACE's InheritedObjectType is matched against.
pub fn class_guids(e: &Entry) -> Vec<Uuid> {
    e.values("objectClass")
        .iter()
        .filter_map(|c| Schema::ad().class(std::str::from_utf8(c).ok()?))
        .map(|c| c.schema_id_guid)
        .collect()
}

fn guids_of_class(class: &str) -> Vec<Uuid> {
    Schema::ad()
        .class_chain(class)
        .iter()
        .map(|c| c.schema_id_guid)
        .collect()
}

/// possSuperiors (with systemPossSuperiors and those of the superclasses, MS-ADTS 3.1.1.2.4.5):
/// whether an entry of `e`'s structural class may live under `parent`.
pub fn may_be_child_of(e: &Entry, parent: &Entry) -> bool {
    let Some(class) = e.structural_class() else {
        return false;
    };
    Schema::ad()
        .class_chain(class)
        .iter()
        .any(|c| c.poss_superiors.iter().any(|s| parent.is_class(s)))
}

/// The default owner and group of an object a caller creates: Domain Admins when the caller
/// is one (else Enterprise Admins, else BUILTIN\Administrators when it holds them), otherwise
/// the caller itself with Domain Users as the group. (Windows' "default owner" of the DSA:
/// an administrator's objects are owned by Domain Admins; inferred, Samba
/// source4/dsdb/samdb/ldb_modules/descriptor.c get_default_ag.)
fn default_owner(dir: &Directory, caller: &Caller, domain: usize) -> (Sid, Sid) {
    let d = &dir.forest.domains[domain];
    let da = d.sid.with_rid(512);
    let ea = dir.forest.root().sid.with_rid(519);
    let ba = crate::security::well_known::builtin_administrators();
    for admin in [&da, &ea, &ba] {
        if caller.system || caller.has_sid(admin) {
            return (admin.clone(), admin.clone());
        }
    }
    let owner = caller.sid.clone().unwrap_or_else(|| da.clone());
    (owner, d.sid.with_rid(513))
}

/// The nTSecurityDescriptor of a new entry of `class` under `parent`: the supplied
/// descriptor, else the class's defaultSecurityDescriptor, with the parent's inheritable ACEs
/// (MS-ADTS 3.1.1.5.2.1 nTSecurityDescriptor on add; MS-DTYP 2.5.3.4).
pub fn new_descriptor(
    dir: &Directory,
    caller: &Caller,
    parent: Option<&Entry>,
    class: &str,
    supplied: Option<SecurityDescriptor>,
    domain: Option<usize>,
) -> Option<Vec<u8>> {
    let (owner, group) = default_owner(dir, caller, domain.unwrap_or(0));
    let parent_attr = parent.and_then(|p| p.get_shared("nTSecurityDescriptor")).cloned();
    let from_default = supplied.is_none();
    let memo_key = MemoKey {
        parent_sd: parent_attr,
        class: class.to_ascii_lowercase(),
        domain,
        owner: owner.clone(),
        group: group.clone(),
    };
    if from_default {
        if let Some(bytes) = dir.sd_cache.remembered(&memo_key) {
            return Some(bytes);
        }
    }
    let creator = match supplied {
        Some(sd) => sd,
        None => dir.sd_cache.class_default(dir, class, domain)?,
    };
    let parent_sd = parent.and_then(descriptor_of);
    let guids = guids_of_class(class);
    let sd = inherit::create_sd(
        parent_sd.as_ref(),
        &creator,
        Child {
            class_guids: &guids,
            is_container: true,
            owner: &owner,
            group: &group,
        },
    );
    let bytes = sd.to_bytes().ok()?;
    if from_default {
        dir.sd_cache.remember(memo_key, bytes.clone());
    }
    Some(bytes)
}

/// What a new descriptor built from a class default depends on: the parent's descriptor (the
/// shared stored value, compared by identity: a changed parent descriptor is a new value),
/// the class, the domain, and the owner and group the creator gives.
struct MemoKey {
    parent_sd: Option<Arc<Attr>>,
    class: String,
    domain: Option<usize>,
    owner: Sid,
    group: Sid,
}

impl MemoKey {
    fn same(&self, other: &MemoKey) -> bool {
        let parent = match (&self.parent_sd, &other.parent_sd) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        };
        parent
            && self.class == other.class
            && self.domain == other.domain
            && self.owner == other.owner
            && self.group == other.group
    }
}

/// A lower-cased class name and the domain whose SIDs its default descriptor resolves in.
type ClassInDomain = (String, Option<usize>);

/// Work `new_descriptor` need not repeat (issue 12, bulk loads): each class's default
/// descriptor parsed from its SDDL once per domain, and the last descriptor built — a load of
/// many users into one container by one caller builds the same descriptor each time. Derived
/// from the immutable forest and the stored parent, so never stale.
#[derive(Default)]
pub struct DescriptorCache {
    defaults: Mutex<HashMap<ClassInDomain, Option<SecurityDescriptor>>>,
    last: Mutex<Option<(MemoKey, Vec<u8>)>>,
}

impl DescriptorCache {
    /// The class's defaultSecurityDescriptor, without owner and group (they come from the
    /// creator). Classes come from the schema, so the map is bounded by it.
    fn class_default(
        &self,
        dir: &Directory,
        class: &str,
        domain: Option<usize>,
    ) -> Option<SecurityDescriptor> {
        let key = (class.to_ascii_lowercase(), domain);
        let mut map = self.defaults.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(key)
            .or_insert_with(|| {
                let raw = super::provision::default_security_descriptor(dir, class, domain)?;
                let mut sd = SecurityDescriptor::from_bytes(&raw).ok()?;
                sd.owner = None;
                sd.group = None;
                Some(sd)
            })
            .clone()
    }

    fn remembered(&self, key: &MemoKey) -> Option<Vec<u8>> {
        let last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        last.as_ref().filter(|(k, _)| k.same(key)).map(|(_, b)| b.clone())
    }

    fn remember(&self, key: MemoKey, bytes: Vec<u8>) {
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some((key, bytes));
    }
}

/// Recomputes `e`'s inherited ACEs from `parent` (a move; MS-DTYP 2.5.3.4).
pub fn reinherit_entry(e: &mut Entry, parent: &Entry) {
    let Some(current) = descriptor_of(e) else { return };
    let sd = inherit::reinherit(descriptor_of(parent).as_ref(), &current, &class_guids(e));
    if let Ok(bytes) = sd.to_bytes() {
        e.set("nTSecurityDescriptor", vec![bytes]);
    }
}

/// Propagates `root`'s descriptor to its subtree: every descendant's inherited ACEs are
/// recomputed from its parent, explicit ones kept; a protected DACL keeps none (MS-DTYP
/// 2.5.3.4; Windows' SD propagator).
pub fn propagate(st: &mut DirState, root: EntryId) {
    let ids = st.store.subtree(root);
    for id in ids.into_iter().skip(1) {
        let Some(e) = st.store.get(id) else { continue };
        let Some(parent) = e.parent.and_then(|p| st.store.get(p)) else {
            continue;
        };
        let mut updated = (**e).clone();
        let before = updated.first("nTSecurityDescriptor").map(<[u8]>::to_vec);
        reinherit_entry(&mut updated, parent);
        if updated.first("nTSecurityDescriptor").map(<[u8]>::to_vec) != before {
            let _ = st.store.update(updated);
        }
    }
}
