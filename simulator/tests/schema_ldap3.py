#!/usr/bin/env python3
"""Feeds adsim's rendered subschema values to python ldap3's own parsers, as a client with
get_info=ALL would, and checks what ldap3 makes of them.

Usage: schema_ldap3.py RENDERED.json   (written by schema_ldap3.rs)
Exits non-zero with a message on the first failed check.
"""
import json
import sys

from ldap3.core.exceptions import LDAPAttributeError
from ldap3.operation.search import search_operation
from ldap3.protocol.formatters.standard import find_attribute_validator
from ldap3.protocol.rfc4512 import SchemaInfo

DIRECTORY_STRING = "1.3.6.1.4.1.1466.115.121.1.15"
OCTET_STRING = "1.3.6.1.4.1.1466.115.121.1.40"
INTEGER = "1.3.6.1.4.1.1466.115.121.1.27"
DN = "1.3.6.1.4.1.1466.115.121.1.12"
NT_SD = "1.2.840.113556.1.4.907"

EXPECTED = {
    # name: (OID, SYNTAX, single-valued)
    "msDS-ManagedPassword": ("1.2.840.113556.1.4.2196", OCTET_STRING, True),
    "msDS-ManagedPasswordId": ("1.2.840.113556.1.4.2197", OCTET_STRING, True),
    "msDS-ManagedPasswordPreviousId": ("1.2.840.113556.1.4.2198", OCTET_STRING, True),
    "msDS-ManagedPasswordInterval": ("1.2.840.113556.1.4.2199", INTEGER, True),
    "msDS-GroupMSAMembership": ("1.2.840.113556.1.4.2200", NT_SD, True),
    "msDS-KeyVersionNumber": ("1.2.840.113556.1.4.1782", INTEGER, True),
    "msDS-SupportedEncryptionTypes": ("1.2.840.113556.1.4.1963", INTEGER, True),
    "objectSid": ("1.2.840.113556.1.4.146", OCTET_STRING, True),
    "sAMAccountName": ("1.2.840.113556.1.4.221", DIRECTORY_STRING, True),
    "servicePrincipalName": ("1.2.840.113556.1.4.771", DIRECTORY_STRING, False),
    "userPrincipalName": ("1.2.840.113556.1.4.656", DIRECTORY_STRING, True),
    "member": ("2.5.4.31", DN, False),
    "nTSecurityDescriptor": ("1.2.840.113556.1.2.281", NT_SD, True),
    "msKds-RootKeyData": ("1.2.840.113556.1.4.2175", OCTET_STRING, True),
}


def fail(message):
    print(f"FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        rendered = json.load(f)
    attributes = {
        "attributeTypes": rendered["attributeTypes"],
        "objectClasses": rendered["objectClasses"],
        "dITContentRules": rendered["dITContentRules"],
    }
    raw = {k: [v.encode() for v in vals] for k, vals in attributes.items()}
    schema = SchemaInfo("CN=Aggregate,CN=Schema,CN=Configuration,DC=corp,DC=example,DC=test", dict(attributes), raw)

    # Every rendered definition parsed, under its own name.
    for key, parsed in (("attributeTypes", schema.attribute_types), ("objectClasses", schema.object_classes),
                        ("dITContentRules", schema.dit_content_rules)):
        if len(parsed) != len(rendered[key]):
            fail(f"{key}: rendered {len(rendered[key])} definitions, ldap3 parsed {len(parsed)}")
    for line in rendered["attributeTypes"]:
        oid = line.split()[1]
        name = line.split("NAME '", 1)[1].split("'", 1)[0]
        if name not in schema.attribute_types or schema.attribute_types[name].oid != oid:
            fail(f"attribute {name} did not parse with OID {oid}: {line}")

    for name, (oid, syntax, single) in EXPECTED.items():
        at = schema.attribute_types[name]
        if at.oid != oid or at.syntax != syntax or bool(at.single_value) != single:
            fail(f"{name}: ldap3 read oid={at.oid} syntax={at.syntax} single={at.single_value}")

    gmsa = schema.object_classes["msDS-GroupManagedServiceAccount"]
    if gmsa.oid != "1.2.840.113556.1.5.282" or gmsa.superior != ["computer"] or gmsa.kind != "STRUCTURAL":
        fail(f"msDS-GroupManagedServiceAccount: oid={gmsa.oid} sup={gmsa.superior} kind={gmsa.kind}")
    if gmsa.must_contain != ["msDS-ManagedPasswordInterval"] or "msDS-ManagedPassword" not in gmsa.may_contain:
        fail(f"msDS-GroupManagedServiceAccount MUST/MAY: {gmsa.must_contain} / {gmsa.may_contain}")
    top = schema.object_classes["top"]
    if top.superior or top.kind != "ABSTRACT" or "objectCategory" not in top.must_contain:
        fail(f"top: sup={top.superior} kind={top.kind} must={top.must_contain}")
    user_rule = schema.dit_content_rules["user"]
    if "securityPrincipal" not in user_rule.auxiliary_classes or "sAMAccountName" not in user_rule.must_contain:
        fail(f"user content rule: aux={user_rule.auxiliary_classes} must={user_rule.must_contain}")

    # With the AD OID for objectSid, ldap3 turns a string SID in a filter into the binary form.
    validator = find_attribute_validator(schema, "objectSid", None)
    converted = validator("S-1-5-21-1-2-3-500")
    expected_sid = bytes.fromhex("010500000000000515000000010000000200000003000000f4010000")
    if converted != expected_sid:
        fail(f"objectSid filter value became {converted!r}, not the binary SID")

    # check_names accepts every gMSA attribute name a client asks for, and still rejects others.
    wanted = list(EXPECTED) + ["msDS-HostServiceAccount", "msKds-UseStartTime", "tokenGroups", "canonicalName"]
    search_operation("DC=corp,DC=example,DC=test", "(objectSid=S-1-5-21-1-2-3-500)", 2, 0, wanted, 0, 0,
                     False, True, True, schema=schema, check_names=True)
    try:
        search_operation("DC=corp,DC=example,DC=test", "(objectClass=*)", 2, 0, ["noSuchAttributeX"], 0, 0,
                         False, True, True, schema=schema, check_names=True)
        fail("check_names accepted an attribute the schema does not define")
    except LDAPAttributeError:
        pass

    print(f"ok: ldap3 parsed {len(schema.attribute_types)} attribute types, {len(schema.object_classes)} "
          f"object classes, {len(schema.dit_content_rules)} content rules")


if __name__ == "__main__":
    main()
