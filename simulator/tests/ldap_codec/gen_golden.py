#!/usr/bin/env python3
"""Writes golden LDAP PDUs made by an independent encoder (python ldap3 2.9.1 + pyasn1's BER
encoder) as hex files next to this script; simulator/tests/ldap_codec.rs decodes them.

Run once (needs `pip install ldap3`): python3 simulator/tests/ldap_codec/gen_golden.py
The outputs are committed; this script documents how they were made.

requests/*.hex  : client requests, built with ldap3's own operation builders where it has one
                  (its filter parser turns the RFC 4515 string into BER, escapes included).
responses/*.hex : server responses that adsim's encoder must reproduce byte for byte.
"""
import os

from pyasn1.codec.ber import encoder
from pyasn1.type.namedtype import NamedType, NamedTypes, OptionalNamedType, DefaultedNamedType
from pyasn1.type.tag import Tag, tagClassContext, tagFormatSimple
from pyasn1.type.univ import Boolean, Integer, OctetString, Sequence, SequenceOf

from ldap3.operation.add import add_operation
from ldap3.operation.bind import bind_operation
from ldap3.operation.compare import compare_operation
from ldap3.operation.delete import delete_operation
from ldap3.operation.extended import extended_operation
from ldap3.operation.modify import modify_operation
from ldap3.operation.modifyDn import modify_dn_operation
from ldap3.operation.search import search_operation
from ldap3.operation.abandon import abandon_operation
from ldap3.operation.unbind import unbind_operation
from ldap3.protocol.controls import build_control
from ldap3.protocol.convert import build_controls_list
from ldap3.protocol.microsoft import security_descriptor_control, show_deleted_control, extended_dn_control
from ldap3.protocol.rfc2696 import paged_search_control, RealSearchControlValue, Size, Cookie
from ldap3.protocol.rfc4511 import (
    LDAPMessage, MessageID, ProtocolOp, BindRequest, Version, LDAPDN, AuthenticationChoice,
    SicilyPackageDiscovery, SicilyNegotiate, SicilyResponse, BindResponse, ResultCode, LDAPString,
    ServerSaslCreds, SearchResultEntry, PartialAttributeList, PartialAttribute, AttributeDescription,
    Vals, SearchResultDone, SearchResultReference, URI, Referral, ExtendedResponse, ResponseName,
    ResponseValue, IntermediateResponse, IntermediateResponseName, IntermediateResponseValue,
    ModifyResponse, CompareResponse, Controls, Control, LDAPOID, Criticality, ControlValue,
)

HERE = os.path.dirname(os.path.abspath(__file__))

BASE = 'DC=corp,DC=example,DC=test'
# S-1-5-21-1004336348-1177238915-682003330-296 in binary (MS-DTYP 2.4.2.2), with a 0x2a ('*')
# and a 0x28 ('(') byte inside to prove escaping.
SID = bytes.fromhex('010500000000000515000000dcf4dc3b833d2b46822a8b2828010000')
GUID = bytes.fromhex('2a28295c00ff7f80c3a9010203040506')


def escaped(raw):
    return ''.join('\\%02x' % b for b in raw)


def message(msgid, op_name, op, controls=None):
    msg = LDAPMessage()
    msg['messageID'] = MessageID(msgid)
    msg['protocolOp'] = ProtocolOp().setComponentByName(op_name, op)
    built = build_controls_list(controls)
    if built is not None:
        msg['controls'] = built
    return encoder.encode(msg)


def write(kind, name, pdu):
    os.makedirs(os.path.join(HERE, kind), exist_ok=True)
    with open(os.path.join(HERE, kind, name + '.hex'), 'w') as f:
        f.write(pdu.hex() + '\n')


class FlagsValue(Sequence):
    # SEQUENCE { Flags INTEGER } (MS-ADTS 3.1.1.3.4.1.12 search options)
    componentType = NamedTypes(NamedType('Flags', Integer()))


class SortKey(Sequence):
    # RFC 2891 SortKey
    componentType = NamedTypes(
        NamedType('attributeType', OctetString()),
        OptionalNamedType('orderingRule', OctetString().subtype(
            implicitTag=Tag(tagClassContext, tagFormatSimple, 0))),
        DefaultedNamedType('reverseOrder', Boolean(False).subtype(
            implicitTag=Tag(tagClassContext, tagFormatSimple, 1))),
    )


class SortKeyList(SequenceOf):
    componentType = SortKey()


def search(filter_text, attributes, scope=2, size_limit=0, types_only=False, base=BASE):
    return search_operation(base, filter_text, scope, 0, attributes, size_limit, 0, types_only,
                            auto_escape=False, auto_encode=False)


def requests():
    # Binary objectSid equality in a paged search with critical SD flags, as bloodyAD sends.
    write('requests', 'search_objectsid_paged_sdflags', message(
        7, 'searchRequest',
        search('(objectSid=%s)' % escaped(SID), ['cn', 'objectGUID', 'nTSecurityDescriptor']),
        [paged_search_control(True, 500, None), security_descriptor_control(True, 7)[0]]))

    # Second page: a binary cookie.
    write('requests', 'search_paged_cookie', message(
        8, 'searchRequest', search('(objectClass=user)', ['sAMAccountName'], size_limit=1000),
        [paged_search_control(False, 100, b'\x00\x01\xffcookie')]))

    # Every filter kind, AD matching rules, and the show deleted / deactivated link / search
    # options controls (critical, as bloodyAD `get object`).
    complex_filter = ('(&(objectClass=user)(|(cn=ad*min*x)(!(sAMAccountName~=bob)))'
                      '(userAccountControl:1.2.840.113556.1.4.803:=2)'
                      '(memberOf:1.2.840.113556.1.4.1941:=CN=Domain Admins,CN=Users,%s)'
                      '(whenCreated>=20240101000000.0Z)(uSNChanged<=100)(objectGUID=*)'
                      '(objectGUID=%s)(description=*\\2a\\28\\29\\5c*))' % (BASE, escaped(GUID)))
    options = FlagsValue()
    options['Flags'] = 2
    write('requests', 'search_complex_filter', message(
        9, 'searchRequest', search(complex_filter, ['*', '+'], types_only=True),
        [show_deleted_control(True), build_control('1.2.840.113556.1.4.2065', True, None),
         build_control('1.2.840.113556.1.4.1340', False, options)]))

    # Extensible match with dnAttributes and no attribute; base scope; no attributes (1.1).
    write('requests', 'search_extensible_dn', message(
        10, 'searchRequest', search('(|(ou:dn:=People)(:dn:2.4.6.8.10:=Dino))', ['1.1'], scope=0),
        [extended_dn_control(False, hex_format=False)]))

    # Server-side sort (RFC 2891) with an ordering rule and reverse order.
    keys = SortKeyList()
    k1 = SortKey()
    k1['attributeType'] = 'sn'
    k1['orderingRule'] = '2.5.13.3'
    k1['reverseOrder'] = True
    k2 = SortKey()
    k2['attributeType'] = 'givenName'
    keys[0] = k1
    keys[1] = k2
    write('requests', 'search_sorted', message(
        11, 'searchRequest', search('(sn=*)', ['sn', 'givenName'], scope=1),
        [build_control('1.2.840.113556.1.4.473', True, keys)]))

    write('requests', 'bind_simple', message(
        1, 'bindRequest', bind_operation(3, 'SIMPLE', 'Administrator@corp.example.test', 'Pässw0rd!')))
    write('requests', 'bind_anonymous', message(2, 'bindRequest', bind_operation(3, 'ANONYMOUS')))
    write('requests', 'bind_sasl_spnego', message(
        3, 'bindRequest', bind_operation(3, 'SASL', '', sasl_mechanism='GSS-SPNEGO',
                                         sasl_credentials=b'\x60\x82\x00\x10NTLMSSP\x00\x01\x00\x00\x00\xff\x00')))
    write('requests', 'bind_sasl_external', message(
        4, 'bindRequest', bind_operation(3, 'SASL', '', sasl_mechanism='EXTERNAL')))
    write('requests', 'bind_v2', message(5, 'bindRequest', bind_operation(2, 'ANONYMOUS')))

    # Sicily (MS-ADTS 5.1.1.1.3; docs/notes/client-interop.md §7b), as ldap3's bind_operation builds it.
    discovery = BindRequest()
    discovery['version'] = Version(3)
    discovery['name'] = LDAPDN('')
    discovery['authentication'] = AuthenticationChoice().setComponentByName(
        'sicilyPackageDiscovery', SicilyPackageDiscovery(''))
    write('requests', 'bind_sicily_discovery', message(1, 'bindRequest', discovery))
    negotiate = BindRequest()
    negotiate['version'] = Version(3)
    negotiate['name'] = LDAPDN('NTLM')
    negotiate['authentication'] = AuthenticationChoice().setComponentByName(
        'sicilyNegotiate', SicilyNegotiate(b'NTLMSSP\x00\x01\x00\x00\x00\x07\x82\x08\xa2' + bytes(16)))
    write('requests', 'bind_sicily_negotiate', message(2, 'bindRequest', negotiate))
    response = BindRequest()
    response['version'] = Version(3)
    response['name'] = LDAPDN('')
    response['authentication'] = AuthenticationChoice().setComponentByName(
        'sicilyResponse', SicilyResponse(b'NTLMSSP\x00\x03\x00\x00\x00' + bytes(range(256))))
    write('requests', 'bind_sicily_response', message(3, 'bindRequest', response))

    # unicodePwd (MS-ADTS 3.1.1.3.1.5: quoted UTF-16LE) and other binary values.
    pwd = '"Secret-Pa55"'.encode('utf-16-le')
    write('requests', 'modify_unicodepwd', message(
        12, 'modifyRequest', modify_operation(
            'CN=alice,CN=Users,' + BASE,
            {'unicodePwd': [(2, [pwd])], 'member': [(0, ['CN=bob,CN=Users,' + BASE])],
             'description': [(1, [])], 'uSNChanged': [(3, ['1'])]}, auto_encode=False),
        [build_control('1.2.840.113556.1.4.1413', False, None)]))
    write('requests', 'add_user', message(
        13, 'addRequest', add_operation(
            'CN=carol,CN=Users,' + BASE,
            {'objectClass': ['top', 'person', 'organizationalPerson', 'user'],
             'sAMAccountName': 'carol', 'objectSid': SID, 'thumbnailPhoto': bytes(range(256))},
            auto_encode=False)))
    write('requests', 'delete', message(
        14, 'delRequest', delete_operation('CN=carol,CN=Users,' + BASE),
        [build_control('1.2.840.113556.1.4.805', True, None)]))
    write('requests', 'modify_dn', message(
        15, 'modDNRequest', modify_dn_operation('CN=carol,CN=Users,' + BASE, 'CN=carol2', True,
                                                'OU=Staff,' + BASE)))
    write('requests', 'compare_binary', message(
        16, 'compareRequest', compare_operation('CN=carol,CN=Users,' + BASE, 'objectSid', SID,
                                                auto_encode=False)))
    write('requests', 'abandon', message(17, 'abandonRequest', abandon_operation(9)))
    write('requests', 'extended_starttls', message(18, 'extendedReq', extended_operation('1.3.6.1.4.1.1466.20037')))
    write('requests', 'extended_whoami', message(19, 'extendedReq', extended_operation('1.3.6.1.4.1.4203.1.11.3')))
    write('requests', 'extended_with_value', message(
        20, 'extendedReq', extended_operation('1.3.6.1.4.1.4203.1.11.1', b'\x30\x00', no_encode=True)))
    write('requests', 'unbind', message(21, 'unbindRequest', unbind_operation()))


def result(cls, code, matched=b'', diag='', referral=None):
    r = cls()
    r['resultCode'] = ResultCode(code)
    r['matchedDN'] = LDAPDN(matched)
    r['diagnosticMessage'] = LDAPString(diag)
    if referral:
        ref = Referral()
        for i, uri in enumerate(referral):
            ref[i] = URI(uri)
        r['referral'] = ref
    return r


def responses():
    write('responses', 'bind_success', message(1, 'bindResponse', result(BindResponse, 0)))
    creds = result(BindResponse, 14)
    creds['serverSaslCreds'] = ServerSaslCreds(b'\xa1\x81\x03spnego-token')
    write('responses', 'bind_sasl_in_progress', message(3, 'bindResponse', creds))
    write('responses', 'bind_invalid_credentials', message(4, 'bindResponse', result(
        BindResponse, 49, diag='80090308: LdapErr: DSID-0C090569, comment: AcceptSecurityContext error, '
                               'data 52e, v4563\x00')))
    # Sicily: matchedDN carries the package list, then the raw CHALLENGE_MESSAGE.
    write('responses', 'bind_sicily_discovery', message(1, 'bindResponse', result(BindResponse, 0, b'NTLM')))
    challenge = b'NTLMSSP\x00\x02\x00\x00\x00' + bytes(range(256))
    write('responses', 'bind_sicily_challenge', message(2, 'bindResponse', result(BindResponse, 0, challenge)))

    entry = SearchResultEntry()
    entry['object'] = LDAPDN('CN=Administrator,CN=Users,' + BASE)
    attrs = PartialAttributeList()
    for i, (name, vals) in enumerate([('objectClass', [b'top', b'person', b'user']), ('objectSid', [SID]),
                                      ('objectGUID', [GUID]), ('thumbnailPhoto', [bytes(range(256)) * 2]),
                                      ('memberOf', [])]):
        pa = PartialAttribute()
        pa['type'] = AttributeDescription(name)
        v = Vals()
        for j, val in enumerate(vals):
            v[j] = val
        pa['vals'] = v
        attrs[i] = pa
    entry['attributes'] = attrs
    write('responses', 'search_entry', message(7, 'searchResEntry', entry))

    ref = SearchResultReference()
    ref[0] = URI('ldap://child.corp.example.test/DC=child,' + BASE)
    ref[1] = URI('ldap://other.test/')
    write('responses', 'search_reference', message(7, 'searchResRef', ref))

    page = RealSearchControlValue()
    page['size'] = Size(0)
    page['cookie'] = Cookie(b'\x01\x02cookie')
    write('responses', 'search_done_paged', message(
        7, 'searchResDone', result(SearchResultDone, 0), [build_control('1.2.840.113556.1.4.319', False, page)]))
    write('responses', 'search_done_referral', message(
        8, 'searchResDone', result(SearchResultDone, 10, diag='0000202B: RefErr: DSID-0310084A',
                                   referral=['ldap://child.corp.example.test/DC=child,' + BASE])))
    write('responses', 'modify_unwilling', message(
        12, 'modifyResponse', result(ModifyResponse, 53, diag='0000001F: SvcErr: DSID-031A126C, problem 5003 '
                                                               '(WILL_NOT_PERFORM), data 0\n\x00')))
    write('responses', 'compare_true', message(16, 'compareResponse', result(CompareResponse, 6)))

    whoami = ExtendedResponse()
    whoami['resultCode'] = ResultCode(0)
    whoami['matchedDN'] = LDAPDN('')
    whoami['diagnosticMessage'] = LDAPString('')
    whoami['responseValue'] = ResponseValue(b'u:CORP\\Administrator')
    write('responses', 'extended_whoami', message(19, 'extendedResp', whoami))

    starttls = ExtendedResponse()
    starttls['resultCode'] = ResultCode(0)
    starttls['matchedDN'] = LDAPDN('')
    starttls['diagnosticMessage'] = LDAPString('')
    starttls['responseName'] = ResponseName('1.3.6.1.4.1.1466.20037')
    write('responses', 'extended_starttls', message(18, 'extendedResp', starttls))

    notice = ExtendedResponse()
    notice['resultCode'] = ResultCode(2)
    notice['matchedDN'] = LDAPDN('')
    notice['diagnosticMessage'] = LDAPString('malformed PDU')
    notice['responseName'] = ResponseName('1.3.6.1.4.1.1466.20036')
    write('responses', 'notice_of_disconnection', message(0, 'extendedResp', notice))

    inter = IntermediateResponse()
    inter['responseName'] = IntermediateResponseName('1.3.6.1.4.1.4203.1.9.1.4')
    inter['responseValue'] = IntermediateResponseValue(b'\xa0\x00')
    write('responses', 'intermediate', message(30, 'intermediateResponse', inter))


if __name__ == '__main__':
    requests()
    responses()
