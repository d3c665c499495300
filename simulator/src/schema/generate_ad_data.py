#!/usr/bin/env python3
"""Regenerates ad_data.rs: the Active Directory schema facts adsim serves.

Source: Microsoft's published Windows Server 2016 AD DS schema definitions
(AD_DS_Attributes__Windows_Server_2016.ldf, AD_DS_Classes__Windows_Server_2016.ldf; the same facts as
MS-ADA1/ADA2/ADA3 and MS-ADSC), as shipped by Debian's `samba-ad-provision` package under
/usr/share/samba/setup/ad-schema/. Microsoft's notice on those files allows implementations to
distribute the schema. Only facts are extracted (names, OIDs, syntaxes, flags, ranges, link IDs,
GUIDs, class structure, default security descriptors); descriptions are dropped.

Usage: python3 generate_ad_data.py [AD_SCHEMA_DIR] > ad_data.rs
"""
import base64
import sys
import uuid

SRC = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/samba/setup/ad-schema"

# (attributeSyntax, oMSyntax, oMObjectClass as BER hex) -> Syntax variant (MS-ADTS 3.1.1.2.2.2).
SYNTAXES = {
    ("2.5.5.1", "127", "2b0c0287731c00854a"): "DsDn",
    ("2.5.5.2", "6", ""): "ObjectIdentifier",
    ("2.5.5.3", "27", ""): "CaseExactString",
    ("2.5.5.4", "20", ""): "CaseIgnoreString",
    ("2.5.5.5", "19", ""): "PrintableString",
    ("2.5.5.5", "22", ""): "Ia5String",
    ("2.5.5.6", "18", ""): "NumericString",
    ("2.5.5.7", "127", "2a864886f7140101010b"): "DnBinary",
    ("2.5.5.7", "127", "56060102050b1d"): "OrName",
    ("2.5.5.8", "1", ""): "Boolean",
    ("2.5.5.9", "2", ""): "Integer",
    ("2.5.5.9", "10", ""): "Enumeration",
    ("2.5.5.10", "4", ""): "OctetString",
    ("2.5.5.10", "127", "2a864886f71401010106"): "ReplicaLink",
    ("2.5.5.11", "23", ""): "UtcTime",
    ("2.5.5.11", "24", ""): "GeneralizedTime",
    ("2.5.5.12", "64", ""): "UnicodeString",
    ("2.5.5.13", "127", "2b0c0287731c00855c"): "PresentationAddress",
    ("2.5.5.14", "127", "2a864886f7140101010c"): "DnString",
    ("2.5.5.14", "127", "2b0c0287731c00853e"): "AccessPoint",
    ("2.5.5.15", "66", ""): "NtSecurityDescriptor",
    ("2.5.5.16", "65", ""): "LargeInteger",
    ("2.5.5.17", "4", ""): "Sid",
}

KIND = {"0": "Type88", "1": "Structural", "2": "Abstract", "3": "Auxiliary"}


def parse_ldf(path):
    text = open(path, "rb").read().decode("utf-8", "replace").replace("\r\n", "\n")
    lines = []
    for line in text.split("\n"):
        if line.startswith(" ") and lines:
            lines[-1] += line[1:]
        else:
            lines.append(line)
    records, cur = [], {}
    for line in lines:
        if line.startswith("#"):
            continue
        if not line.strip():
            if cur:
                records.append(cur)
                cur = {}
            continue
        key, rest = line.split(":", 1)
        if rest.startswith(":"):
            raw = base64.b64decode(rest[1:].strip())
            value = str(uuid.UUID(bytes_le=raw)) if key.endswith("GUID") else raw.hex()
        else:
            value = rest.strip()
        cur.setdefault(key, []).append(value)
    if cur:
        records.append(cur)
    return [r for r in records if "lDAPDisplayName" in r]


def one(rec, key, default=None):
    vals = rec.get(key)
    return vals[0] if vals else default


def rust_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def guid(s):
    return "0x" + uuid.UUID(s).hex


def opt(v):
    return "None" if v is None else f"Some({v})"


def opt_u32(v):
    # rangeLower/rangeUpper are 32-bit Integers read as unsigned: -1 means 0xFFFFFFFF.
    return "None" if v is None else f"Some({int(v) & 0xFFFFFFFF})"


def str_list(values):
    return "&[" + ", ".join(rust_str(v) for v in values) + "]"


def attribute_line(a):
    key = (one(a, "attributeSyntax"), one(a, "oMSyntax"), one(a, "oMObjectClass", ""))
    syntax = SYNTAXES[key]
    flags = []
    if one(a, "isSingleValued") == "TRUE":
        flags.append("SINGLE")
    if one(a, "systemOnly") == "TRUE":
        flags.append("SYS_ONLY")
    if one(a, "isMemberOfPartialAttributeSet") == "TRUE":
        flags.append("PAS")
    flag_expr = " | ".join(flags) if flags else "0"
    sec = one(a, "attributeSecurityGUID")
    return (
        f"    attr({rust_str(one(a, 'lDAPDisplayName'))}, {rust_str(one(a, 'cn'))}, "
        f"{rust_str(one(a, 'attributeID'))}, {syntax}, {flag_expr}, "
        f"{int(one(a, 'systemFlags', '0'))}, {int(one(a, 'searchFlags', '0'))}, "
        f"{opt_u32(one(a, 'rangeLower'))}, {opt_u32(one(a, 'rangeUpper'))}, {opt(one(a, 'linkID'))}, "
        f"{guid(one(a, 'schemaIDGUID'))}, {guid(sec) if sec else '0'}),"
    )


def class_line(c):
    cat = one(c, "defaultObjectCategory")
    cat_cn = cat.split(",", 1)[0][3:]
    return (
        f"    class({rust_str(one(c, 'lDAPDisplayName'))}, {rust_str(one(c, 'cn'))}, "
        f"{rust_str(one(c, 'governsID'))}, {KIND[one(c, 'objectClassCategory')]}, "
        f"{rust_str(one(c, 'subClassOf'))}, {rust_str(one(c, 'rDNAttID', 'cn'))}, "
        f"{str_list(c.get('systemMustContain', []) + c.get('mustContain', []))}, "
        f"{str_list(c.get('systemMayContain', []) + c.get('mayContain', []))}, "
        f"{str_list(c.get('systemPossSuperiors', []) + c.get('possSuperiors', []))}, "
        f"{str_list(c.get('systemAuxiliaryClass', []) + c.get('auxiliaryClass', []))}, "
        f"{'true' if one(c, 'systemOnly') == 'TRUE' else 'false'}, "
        f"{int(one(c, 'systemFlags', '0'))}, "
        f"{'true' if one(c, 'defaultHidingValue') == 'TRUE' else 'false'}, "
        f"{rust_str(cat_cn)}, {guid(one(c, 'schemaIDGUID'))}, "
        f"{rust_str(one(c, 'defaultSecurityDescriptor', ''))}),"
    )


def main():
    attrs = parse_ldf(f"{SRC}/AD_DS_Attributes__Windows_Server_2016.ldf")
    classes = parse_ldf(f"{SRC}/AD_DS_Classes__Windows_Server_2016.ldf")
    # Defunct definitions are not part of the active schema (MS-ADTS 3.1.1.2.4.1).
    attrs = [a for a in attrs if one(a, "isDefunct") != "TRUE"]
    classes = [c for c in classes if one(c, "isDefunct") != "TRUE"]
    attrs.sort(key=lambda a: one(a, "lDAPDisplayName").lower())
    classes.sort(key=lambda c: one(c, "lDAPDisplayName").lower())
    out = [
        "// @generated by generate_ad_data.py from Microsoft's published Windows Server 2016 AD DS",
        "// schema definitions (MS-ADA1/ADA2/ADA3, MS-ADSC). Do not edit by hand.",
        "",
        "use super::syntax::Syntax::*;",
        "use super::types::ClassKind::*;",
        "use super::types::{attr, class, AttributeType, ObjectClass, PAS, SINGLE, SYS_ONLY};",
        "",
        "#[rustfmt::skip]",
        f"pub(super) static ATTRIBUTES: [AttributeType; {len(attrs)}] = [",
    ]
    out += [attribute_line(a) for a in attrs]
    out += ["];", "", "#[rustfmt::skip]", f"pub(super) static CLASSES: [ObjectClass; {len(classes)}] = ["]
    out += [class_line(c) for c in classes]
    out += ["];", ""]
    sys.stdout.write("\n".join(out))


if __name__ == "__main__":
    main()
