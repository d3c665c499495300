//! The AS exchange (RFC 4120 §3.1, MS-KILE 3.3.5.6).

use super::crypto::Etype;
use super::db::{uac, KdcPrincipal, KerberosKey, LogonRestriction};
use super::error::{code, Refusal};
use super::key_usage;
use super::messages::{
    decode_pac_request, encode_etype_info2, encode_method_data, msg_type, name_type, pa_type, EncKdcRepPart,
    EncTicketPart, EncryptedData, EncryptionKey, EtypeInfo2Entry, KdcRep, KdcReq, LastReqEntry, PaData,
    PaEncTsEnc, PrincipalName, TransitedEncoding,
};
use super::names::{find_client, find_service};
use super::pac::{self, SigningKey};
use super::policy::{self, kdc_option, ticket_flag};
use super::ticket;
use super::Kdc;

pub(super) fn handle(kdc: &Kdc, req: &KdcReq) -> Result<KdcRep, Refusal> {
    let body = &req.req_body;
    let now = kdc.now();
    let realm = kdc
        .served_realm(&body.realm)
        .ok_or(Refusal::new(code::KDC_ERR_WRONG_REALM, "realm not served"))?;
    let cname = body.cname.as_ref().ok_or(Refusal::new(
        code::KDC_ERR_C_PRINCIPAL_UNKNOWN,
        "AS-REQ without cname",
    ))?;
    let client = find_client(kdc.db(), &realm, cname).ok_or(Refusal::new(
        code::KDC_ERR_C_PRINCIPAL_UNKNOWN,
        "client not found",
    ))?;
    // A disabled, locked-out or expired account is revoked before any pre-authentication is
    // looked at (RFC 4120 §7.5.9, MS-KILE 3.3.5.6.1.1; a locked account with the right
    // password is still refused, and a wrong one does not count).
    if client.user_account_control & (uac::ACCOUNTDISABLE | uac::LOCKOUT) != 0 {
        return Err(Refusal::new(
            code::KDC_ERR_CLIENT_REVOKED,
            "account disabled or locked",
        ));
    }
    if let Some(LogonRestriction::Revoked(why)) = client.logon_restriction {
        return Err(Refusal::new(code::KDC_ERR_CLIENT_REVOKED, why));
    }
    let sname = body.sname.as_ref().ok_or(Refusal::new(
        code::KDC_ERR_S_PRINCIPAL_UNKNOWN,
        "AS-REQ without sname",
    ))?;
    let service = find_service(kdc.db(), &realm, sname).ok_or(Refusal::new(
        code::KDC_ERR_S_PRINCIPAL_UNKNOWN,
        "service not found",
    ))?;

    let rules = kdc.ticket_policy(&realm);
    let candidates = policy::client_reply_keys(&body.etypes, &client);
    if candidates.is_empty() {
        return Err(Refusal::new(
            code::KDC_ERR_ETYPE_NOSUPP,
            "no client key for the requested etypes",
        ));
    }

    let (reply_etype, reply_key, pre_authenticated) = match req.padata(pa_type::PA_ENC_TIMESTAMP) {
        Some(pa) => {
            let verified =
                verify_encrypted_timestamp(&pa.value, &client, &candidates, now.unix, rules.max_clock_skew);
            // A wrong key counts towards the lockout; a good one resets it (MS-KILE 3.3.5.6.1.1).
            match &verified {
                Err(r) if r.code == code::KDC_ERR_PREAUTH_FAILED => {
                    kdc.db().record_preauth(&realm, &client, false)
                }
                Ok(_) => kdc.db().record_preauth(&realm, &client, true),
                Err(_) => {}
            }
            let (etype, key) = verified?;
            (etype, key, true)
        }
        // UF_DONT_REQUIRE_PREAUTH: AD answers without pre-authentication (MS-KILE 3.3.5.6.1).
        None if client.user_account_control & uac::DONT_REQ_PREAUTH != 0 => {
            let (etype, key) = candidates[0];
            (etype, key.clone(), false)
        }
        None => {
            return Err(
                Refusal::new(code::KDC_ERR_PREAUTH_REQUIRED, "pre-authentication required")
                    .with_e_data(preauth_required_e_data(&client, &candidates)),
            )
        }
    };

    // A password that must change (pwdLastSet = 0) or has expired: KDC_ERR_KEY_EXPIRED once the
    // client proved it knows it, except for the password-change service, whose ticket lets the
    // user set a new one (RFC 3244 §2: kadmin/changepw, an SPN of krbtgt
    // in AD). MIT kinit then prompts for a new password.
    if client.logon_restriction == Some(LogonRestriction::KeyExpired) && !is_changepw(sname) {
        return Err(Refusal::new(
            code::KDC_ERR_KEY_EXPIRED,
            "password expired or must change",
        ));
    }

    let (ticket_etype, ticket_key) = policy::ticket_key(&service).ok_or(Refusal::new(
        code::KDC_ERR_ETYPE_NOSUPP,
        "service has no usable key",
    ))?;
    let session_etype = policy::session_etype(&body.etypes, &service).ok_or(Refusal::new(
        code::KDC_ERR_ETYPE_NOSUPP,
        "no session key etype in common",
    ))?;
    let krbtgt = if service.is_krbtgt {
        service.clone()
    } else {
        find_service(
            kdc.db(),
            &realm,
            &PrincipalName::new(name_type::NT_SRV_INST, &["krbtgt", &realm]),
        )
        .ok_or(Refusal::new(code::KRB_ERR_GENERIC, "realm has no krbtgt"))?
    };
    let (kdc_etype, kdc_key) =
        policy::ticket_key(&krbtgt).ok_or(Refusal::new(code::KRB_ERR_GENERIC, "krbtgt has no key"))?;

    // MS-KILE 3.3.1: a TGT lives at most MaxTicketAge and renews until at most MaxRenewAge from
    // now; a ticket straight from the AS exchange for another service (kinit -S, kadmin/changepw)
    // is a service ticket, MaxServiceTicketAge.
    let max_life = if service.is_krbtgt {
        rules.max_ticket_age
    } else {
        rules.max_service_age
    };
    let times = policy::lifetime(
        now.unix,
        body.till,
        body.rtime,
        body.kdc_options,
        max_life,
        rules.max_renew_age,
        (None, None),
    );
    if times.endtime <= now.unix {
        return Err(Refusal::new(
            code::KDC_ERR_NEVER_VALID,
            "requested end time is in the past",
        ));
    }
    let mut flags = ticket_flag::INITIAL;
    if pre_authenticated {
        flags |= ticket_flag::PRE_AUTHENT;
    }
    if body.kdc_options & kdc_option::FORWARDABLE != 0
        && client.user_account_control & uac::NOT_DELEGATED == 0
    {
        flags |= ticket_flag::FORWARDABLE;
    }
    if body.kdc_options & kdc_option::PROXIABLE != 0 {
        flags |= ticket_flag::PROXIABLE;
    }
    if times.renew_till.is_some() {
        flags |= ticket_flag::RENEWABLE;
    }
    if !service.is_krbtgt && service.user_account_control & uac::TRUSTED_FOR_DELEGATION != 0 {
        flags |= ticket_flag::OK_AS_DELEGATE;
    }

    // Names: canonical when the client asked for it (RFC 6806 §3), echoed otherwise, since MIT
    // rejects a reply whose names differ from an uncanonicalized request.
    let canonicalize = body.kdc_options & kdc_option::CANONICALIZE != 0;
    let (reply_crealm, reply_cname) = if canonicalize {
        (
            realm.clone(),
            PrincipalName::new(name_type::NT_PRINCIPAL, &[&client.sam_account_name]),
        )
    } else {
        (body.realm.clone(), cname.clone())
    };
    let reply_sname = if canonicalize && service.is_krbtgt {
        PrincipalName::new(name_type::NT_SRV_INST, &["krbtgt", &realm])
    } else {
        sname.clone()
    };
    let reply_srealm = if canonicalize {
        realm.clone()
    } else {
        body.realm.clone()
    };

    let include_pac = match req.padata(pa_type::PA_PAC_REQUEST) {
        Some(pa) => decode_pac_request(&pa.value).unwrap_or(true),
        None => true,
    };
    let session_key = EncryptionKey {
        keytype: session_etype.number(),
        keyvalue: session_etype.random_key(),
    };
    let authorization_data = if include_pac {
        let logon_server = kdc.db().dc_netbios_name(&realm).unwrap_or_default();
        let contents = ticket::pac_contents(
            &client,
            now.nt,
            &logon_server,
            req.padata(pa_type::PA_PAC_REQUEST).is_some(),
        );
        let pac_bytes = pac::build_signed_pac(
            &contents,
            SigningKey {
                etype: ticket_etype,
                key: &ticket_key.key,
            },
            SigningKey {
                etype: kdc_etype,
                key: &kdc_key.key,
            },
        )
        .map_err(|_| Refusal::new(code::KRB_ERR_GENERIC, "PAC signing failed"))?;
        Some(ticket::pac_authorization_data(pac_bytes))
    } else {
        None
    };
    let part = EncTicketPart {
        flags,
        key: session_key.clone(),
        crealm: reply_crealm.clone(),
        cname: reply_cname.clone(),
        // RFC 4120 §3.3.3.2: DOMAIN-X500-COMPRESS (1), empty for a local realm.
        transited: TransitedEncoding {
            tr_type: 1,
            contents: Vec::new(),
        },
        authtime: now.unix,
        starttime: Some(now.unix),
        endtime: times.endtime,
        renew_till: times.renew_till,
        caddr: body.addresses.clone(),
        authorization_data,
    };
    let ticket = ticket::seal(&part, &reply_srealm, &reply_sname, ticket_etype, ticket_key)
        .map_err(|_| Refusal::new(code::KRB_ERR_GENERIC, "ticket encryption failed"))?;

    // EncASRepPart always carries starttime (impacket needs it, docs/notes/client-interop.md §11).
    let enc_part = EncKdcRepPart {
        app_tag: msg_type::ENC_AS_REP_PART,
        key: session_key,
        last_req: vec![LastReqEntry {
            lr_type: 0,
            lr_value: now.unix,
        }],
        nonce: body.nonce,
        key_expiration: None,
        flags,
        authtime: now.unix,
        starttime: Some(now.unix),
        endtime: times.endtime,
        renew_till: times.renew_till,
        srealm: reply_srealm,
        sname: reply_sname,
        caddr: body.addresses.clone(),
    };
    let cipher = reply_etype
        .encrypt(&reply_key.key, key_usage::AS_REP_ENC_PART, &enc_part.to_der())
        .map_err(|_| Refusal::new(code::KRB_ERR_GENERIC, "reply encryption failed"))?;
    tracing::info!(
        client = %client.sam_account_name,
        realm = %realm,
        service = %sname.joined(),
        reply_etype = reply_etype.number(),
        ticket_etype = ticket_etype.number(),
        session_etype = session_etype.number(),
        "AS ticket issued"
    );
    Ok(KdcRep {
        msg_type: msg_type::AS_REP,
        // Only the standard PA-ETYPE-INFO2, naming the reply key's salt (docs/notes/client-interop.md §11).
        padata: vec![PaData {
            padata_type: pa_type::PA_ETYPE_INFO2,
            value: encode_etype_info2(&[etype_info2_entry(reply_etype, &client)]),
        }],
        crealm: part.crealm,
        cname: part.cname,
        ticket,
        enc_part: EncryptedData {
            etype: reply_etype.number(),
            kvno: Some(reply_key.kvno),
            cipher,
        },
    })
}

/// The password-change service's name (RFC 3244 §2), compared case-insensitively as AD
/// compares SPNs.
fn is_changepw(sname: &PrincipalName) -> bool {
    sname.joined().eq_ignore_ascii_case("kadmin/changepw")
}

/// RFC 4120 §5.2.7.5: RC4 keys take no salt; AES entries carry the account's AD salt.
fn etype_info2_entry(etype: Etype, client: &KdcPrincipal) -> EtypeInfo2Entry {
    EtypeInfo2Entry {
        etype: etype.number(),
        salt: (etype != Etype::Rc4Hmac).then(|| client.salt.clone()),
        s2kparams: None,
    }
}

/// METHOD-DATA for KDC_ERR_PREAUTH_REQUIRED: PA-ETYPE-INFO2 (one entry per usable etype, in
/// the client's order) and an empty PA-ENC-TIMESTAMP, as Windows sends.
fn preauth_required_e_data(client: &KdcPrincipal, candidates: &[(Etype, &KerberosKey)]) -> Vec<u8> {
    let entries: Vec<EtypeInfo2Entry> = candidates
        .iter()
        .map(|(e, _)| etype_info2_entry(*e, client))
        .collect();
    encode_method_data(&[
        PaData {
            padata_type: pa_type::PA_ETYPE_INFO2,
            value: encode_etype_info2(&entries),
        },
        PaData {
            padata_type: pa_type::PA_ENC_TIMESTAMP,
            value: Vec::new(),
        },
    ])
}

/// PA-ENC-TIMESTAMP (RFC 4120 §5.2.7.2). The timestamp must decrypt first: a wrong password is
/// PREAUTH_FAILED even from a skewed client; only a decrypted timestamp can be KRB_AP_ERR_SKEW
/// (docs/notes/windows-behaviour.md row 17).
/// `max_skew` is the domain policy's MaxClockSkew (MS-KILE 3.3.1).
fn verify_encrypted_timestamp(
    value: &[u8],
    client: &KdcPrincipal,
    candidates: &[(Etype, &KerberosKey)],
    now: i64,
    max_skew: i64,
) -> Result<(Etype, KerberosKey), Refusal> {
    let enc = EncryptedData::decode(&mut super::der::DerReader::new(value))
        .map_err(|_| Refusal::new(code::KDC_ERR_PREAUTH_FAILED, "PA-ENC-TIMESTAMP malformed"))?;
    let (etype, key) = candidates
        .iter()
        .find(|(e, _)| e.number() == enc.etype)
        .map(|(e, k)| (*e, (*k).clone()))
        .or_else(|| {
            // The client may pre-authenticate with a key type it did not list first; accept any
            // key the account has and may use.
            let e = Etype::from_i32(enc.etype)?;
            let allowed = policy::client_reply_keys(&[enc.etype], client);
            allowed.first().map(|(_, k)| (e, (*k).clone()))
        })
        .ok_or(Refusal::new(
            code::KDC_ERR_ETYPE_NOSUPP,
            "pre-auth etype not usable",
        ))?;
    let plain = etype
        .decrypt(&key.key, key_usage::AS_REQ_PA_ENC_TIMESTAMP, &enc.cipher)
        .map_err(|_| Refusal::new(code::KDC_ERR_PREAUTH_FAILED, "wrong key"))?;
    let ts = PaEncTsEnc::from_der(&plain)
        .map_err(|_| Refusal::new(code::KDC_ERR_PREAUTH_FAILED, "PA-ENC-TS-ENC malformed"))?;
    if (ts.patimestamp - now).abs() > max_skew {
        return Err(Refusal::new(
            code::KRB_AP_ERR_SKEW,
            "pre-auth timestamp outside the skew",
        ));
    }
    Ok((etype, key))
}
