//! The subschema entry's attributeTypes, objectClasses and dITContentRules values (RFC 4512 4.1),
//! written the way AD writes them. The exact spacing was checked against a Windows Server 2012 R2
//! subschema (as captured in python ldap3's offline AD schema), e.g.
//! `( 2.5.6.0 NAME 'top'  ABSTRACT MUST (objectClass $ … ) MAY (… ) )`:
//! the SYNTAX OID is quoted, lists are `(a $ b )`, top has an empty SUP (hence two spaces),
//! 88 classes are published as STRUCTURAL, and NO-USER-MODIFICATION marks systemOnly attributes.

use super::types::{AttributeType, ClassKind, ObjectClass};
use super::Schema;

impl Schema {
    /// One `attributeTypes` value per attribute.
    pub fn render_attribute_types(&self) -> Vec<String> {
        self.attributes().map(render_attribute_type).collect()
    }

    /// One `objectClasses` value per class.
    pub fn render_object_classes(&self) -> Vec<String> {
        self.classes().map(render_object_class).collect()
    }

    /// One `dITContentRules` value per class. AD lists every auxiliary class of the schema as
    /// allowed (AUX) on every structural and 88 class, and, on every class, as MUST/MAY the
    /// attributes that its statically attached auxiliary classes add to its own chain (samDomain
    /// gets the samDomainBase additions, without an AUX list).
    pub fn render_dit_content_rules(&self) -> Vec<String> {
        let all_aux: Vec<&str> = self
            .classes()
            .filter(|c| c.kind == ClassKind::Auxiliary)
            .map(|c| c.name)
            .collect();
        self.classes()
            .map(|c| self.render_content_rule(c, &all_aux))
            .collect()
    }

    fn render_content_rule(&self, class: &ObjectClass, all_aux: &[&str]) -> String {
        let chain = self.class_chain(class.name);
        let in_chain = |name: &str, include_may: bool| {
            chain.iter().any(|c| {
                c.must.iter().any(|m| m.eq_ignore_ascii_case(name))
                    || (include_may && c.may.iter().any(|m| m.eq_ignore_ascii_case(name)))
            })
        };
        let mut must: Vec<&str> = Vec::new();
        let mut may: Vec<&str> = Vec::new();
        for aux in self.attached_aux_classes(&chain) {
            for name in aux.must {
                if !in_chain(name, false) && !contains(&must, name) {
                    must.push(name);
                }
            }
        }
        for aux in self.attached_aux_classes(&chain) {
            for name in aux.may {
                if !in_chain(name, true) && !contains(&must, name) && !contains(&may, name) {
                    may.push(name);
                }
            }
        }
        let mut out = format!("( {} NAME '{}'", class.oid, class.name);
        if class.kind.is_concrete() {
            out.push_str(&format!(" AUX ( {} )", all_aux.join(" $ ")));
        }
        push_list(&mut out, "MUST", &must);
        push_list(&mut out, "MAY", &may);
        out.push(')');
        out
    }

    /// Auxiliary classes named by systemAuxiliaryClass/auxiliaryClass along a chain, with their
    /// own auxiliary superclasses, in order and without repeats.
    fn attached_aux_classes(&self, chain: &[&ObjectClass]) -> Vec<&ObjectClass> {
        let mut out: Vec<&ObjectClass> = Vec::new();
        let mut queue: Vec<&str> = chain.iter().flat_map(|c| c.aux_classes.iter().copied()).collect();
        let mut i = 0;
        while i < queue.len() {
            for link in self.class_chain(queue[i]) {
                if link.kind == ClassKind::Auxiliary && !out.iter().any(|c| c.name == link.name) {
                    queue.extend(link.aux_classes.iter().copied());
                    out.push(link);
                }
            }
            i += 1;
        }
        out
    }
}

fn contains(list: &[&str], name: &str) -> bool {
    list.iter().any(|n| n.eq_ignore_ascii_case(name))
}

fn push_list(out: &mut String, keyword: &str, names: &[&str]) {
    if !names.is_empty() {
        out.push_str(&format!(" {keyword} ({} )", names.join(" $ ")));
    }
}

fn render_attribute_type(a: &AttributeType) -> String {
    let mut out = format!(
        "( {} NAME '{}' SYNTAX '{}'",
        a.oid,
        a.name,
        a.syntax.ldap_syntax_oid()
    );
    if a.single_valued {
        out.push_str(" SINGLE-VALUE");
    }
    if a.system_only {
        out.push_str(" NO-USER-MODIFICATION");
    }
    out.push_str(" )");
    out
}

fn render_object_class(c: &ObjectClass) -> String {
    let sup = if c.name == "top" { "" } else { c.sub_class_of };
    let kind = match c.kind {
        ClassKind::Structural | ClassKind::Type88 => "STRUCTURAL",
        ClassKind::Abstract => "ABSTRACT",
        ClassKind::Auxiliary => "AUXILIARY",
    };
    let mut out = if sup.is_empty() {
        format!("( {} NAME '{}'  {kind}", c.oid, c.name)
    } else {
        format!("( {} NAME '{}' SUP {sup} {kind}", c.oid, c.name)
    };
    push_list(&mut out, "MUST", c.must);
    push_list(&mut out, "MAY", c.may);
    out.push_str(" )");
    out
}
