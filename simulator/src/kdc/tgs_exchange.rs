//! The TGS exchange (RFC 4120 §3.3, MS-KILE 3.3.5.7): a TGT in PA-TGS-REQ buys a service
//! ticket whose PAC is copied from the TGT, so its groups are the TGT's (docs/notes/windows-behaviour.md 18).

use super::crypto::{self, CryptoError, Etype};
use super::db::{uac, KdcPrincipal};
use super::error::{code, Refusal};
use super::key_usage;
use super::messages::{
    msg_type, pa_type, ApReq, Authenticator, EncKdcRepPart, EncTicketPart, EncryptedData, EncryptionKey,
    KdcRep, KdcReq, LastReqEntry,
};
use super::names::{find_service, is_local_krbtgt};
use super::pac::{Pac, SigningKey};
use super::policy::{self, kdc_option, ticket_flag};
use super::replay::{ReplayKey, Verdict};
use super::ticket::{self, TicketError};
use super::Kdc;

/// `request` is the TGS-REQ as received: a retransmission of the identical request is answered
/// again, another request reusing its authenticator is a replay ([`super::replay`]).
pub(super) fn handle(kdc: &Kdc, req: &KdcReq, request: &[u8]) -> Result<KdcRep, Refusal> {
    let body = &req.req_body;
    let now = kdc.now();
    let realm = kdc
        .served_realm(&body.realm)
        .ok_or(Refusal::new(code::KDC_ERR_WRONG_REALM, "realm not served"))?;
    // The domain's Kerberos policy as it stands now (MS-KILE 3.3.1, 3.3.4.1).
    let rules = kdc.ticket_policy(&realm);
    let skew = rules.max_clock_skew;
    let unsupported = kdc_option::ENC_TKT_IN_SKEY | kdc_option::CNAME_IN_ADDL_TKT | kdc_option::VALIDATE;
    if body.kdc_options & unsupported != 0 {
        // User-to-user, S4U2proxy and postdated-ticket validation are not simulated.
        return Err(Refusal::new(code::KDC_ERR_BADOPTION, "unsupported KDC option"));
    }
    let pa = req
        .padata(pa_type::PA_TGS_REQ)
        .ok_or(Refusal::new(code::KDC_ERR_PADATA_TYPE_NOSUPP, "no PA-TGS-REQ"))?;
    let ap_req =
        ApReq::from_der(&pa.value).map_err(|_| Refusal::new(code::KRB_ERR_GENERIC, "AP-REQ malformed"))?;

    // The TGT must be this realm's krbtgt ticket, sealed with a current or previous krbtgt key.
    let tgt_realm = kdc
        .served_realm(&ap_req.ticket.realm)
        .filter(|r| is_local_krbtgt(&ap_req.ticket.sname, r))
        .ok_or(Refusal::new(code::KRB_AP_ERR_NOT_US, "ticket is not a local TGT"))?;
    let krbtgt = find_service(kdc.db(), &tgt_realm, &ap_req.ticket.sname)
        .ok_or(Refusal::new(code::KRB_ERR_GENERIC, "realm has no krbtgt"))?;
    let krbtgt_keys: Vec<_> = krbtgt.keys.iter().chain(&krbtgt.previous_keys).cloned().collect();
    let (tgt, _) = ticket::open(&ap_req.ticket, &krbtgt_keys).map_err(|e| match e {
        TicketError::NoKey => Refusal::new(
            code::KRB_AP_ERR_BADKEYVER,
            "no krbtgt key for the TGT's kvno/etype",
        ),
        _ => Refusal::new(code::KRB_AP_ERR_BAD_INTEGRITY, "TGT does not decrypt"),
    })?;

    let session_etype = Etype::from_i32(tgt.key.keytype)
        .ok_or(Refusal::new(code::KDC_ERR_ETYPE_NOSUPP, "TGT session key etype"))?;
    let authenticator = session_etype
        .decrypt(
            &tgt.key.keyvalue,
            key_usage::TGS_REQ_AUTH,
            &ap_req.authenticator.cipher,
        )
        .ok()
        .and_then(|plain| Authenticator::from_der(&plain).ok())
        .ok_or(Refusal::new(
            code::KRB_AP_ERR_BAD_INTEGRITY,
            "authenticator does not decrypt",
        ))?;
    if authenticator.cname.components != tgt.cname.components
        || !authenticator.crealm.eq_ignore_ascii_case(&tgt.crealm)
    {
        return Err(Refusal::new(
            code::KRB_AP_ERR_BADMATCH,
            "authenticator names another client",
        ));
    }
    if (authenticator.ctime - now.unix).abs() > skew {
        return Err(Refusal::new(
            code::KRB_AP_ERR_SKEW,
            "authenticator outside the skew",
        ));
    }
    let renew = body.kdc_options & kdc_option::RENEW != 0;
    check_ticket_times(&tgt, now.unix, skew, renew)?;
    verify_body_checksum(
        &authenticator,
        session_etype,
        &tgt.key.keyvalue,
        &req.req_body_raw,
    )?;
    // RFC 4120 §3.2.3 / §3.3.2: an authenticator is good for one request.
    let replay_key = ReplayKey {
        client: format!("{}@{}", authenticator.cname.joined(), authenticator.crealm),
        server: format!("{}@{}", ap_req.ticket.sname.joined(), ap_req.ticket.realm),
        ctime: authenticator.ctime,
        cusec: authenticator.cusec,
    };
    if kdc
        .replay_cache()
        .check_within(&replay_key, Some(request), now.unix, skew)
        == Verdict::Replay
    {
        return Err(Refusal::new(code::KRB_AP_ERR_REPEAT, "authenticator replayed"));
    }

    // The service: the TGT's own service for a renewal, otherwise sname.
    let requested_sname = if renew {
        ap_req.ticket.sname.clone()
    } else {
        body.sname.clone().ok_or(Refusal::new(
            code::KDC_ERR_S_PRINCIPAL_UNKNOWN,
            "TGS-REQ without sname",
        ))?
    };
    let service = find_service(kdc.db(), &realm, &requested_sname).ok_or(Refusal::new(
        code::KDC_ERR_S_PRINCIPAL_UNKNOWN,
        "service not found",
    ))?;
    let (ticket_etype, ticket_key) = policy::ticket_key(&service).ok_or(Refusal::new(
        code::KDC_ERR_ETYPE_NOSUPP,
        "service has no usable key",
    ))?;
    let new_session_etype = policy::session_etype(&body.etypes, &service).ok_or(Refusal::new(
        code::KDC_ERR_ETYPE_NOSUPP,
        "no session key etype in common",
    ))?;
    let (kdc_etype, kdc_key) =
        policy::ticket_key(&krbtgt).ok_or(Refusal::new(code::KRB_ERR_GENERIC, "krbtgt has no key"))?;

    let authorization_data = match ticket::find_pac(&tgt) {
        Some(pac_bytes) => Some(ticket::pac_authorization_data(resign_pac(
            &pac_bytes,
            &krbtgt,
            SigningKey {
                etype: ticket_etype,
                key: &ticket_key.key,
            },
            SigningKey {
                etype: kdc_etype,
                key: &kdc_key.key,
            },
        )?)),
        None => None,
    };

    let (flags, endtime, renew_till) = if renew {
        // RFC 4120 §3.3.3.1: same lifetime as before, restarted now, bounded by renew-till.
        let old_life = tgt.endtime - tgt.starttime.unwrap_or(tgt.authtime);
        let renew_till = tgt.renew_till.unwrap_or(tgt.endtime);
        (
            tgt.flags & !ticket_flag::INITIAL,
            (now.unix + old_life).min(renew_till),
            tgt.renew_till,
        )
    } else {
        // MS-KILE 3.3.1: a service ticket lives at most MaxServiceTicketAge, a TGT asked of
        // the TGS MaxTicketAge; neither outlives the TGT (RFC 4120 §3.3.3).
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
            (Some(tgt.endtime), tgt.renew_till),
        );
        (
            service_ticket_flags(&tgt, &service, body.kdc_options, times.renew_till.is_some()),
            times.endtime,
            times.renew_till,
        )
    };
    if endtime <= now.unix {
        return Err(Refusal::new(
            code::KDC_ERR_NEVER_VALID,
            "ticket would already be expired",
        ));
    }
    let session_key = EncryptionKey {
        keytype: new_session_etype.number(),
        keyvalue: new_session_etype.random_key(),
    };
    let part = EncTicketPart {
        flags,
        key: session_key.clone(),
        crealm: tgt.crealm.clone(),
        cname: tgt.cname.clone(),
        transited: tgt.transited.clone(),
        authtime: tgt.authtime,
        starttime: Some(now.unix),
        endtime,
        renew_till,
        caddr: tgt.caddr.clone(),
        authorization_data,
    };
    let ticket = ticket::seal(&part, &body.realm, &requested_sname, ticket_etype, ticket_key)
        .map_err(|_| Refusal::new(code::KRB_ERR_GENERIC, "ticket encryption failed"))?;
    let enc_part = EncKdcRepPart {
        app_tag: msg_type::ENC_TGS_REP_PART,
        key: session_key,
        last_req: vec![LastReqEntry {
            lr_type: 0,
            lr_value: now.unix,
        }],
        nonce: body.nonce,
        key_expiration: None,
        flags,
        authtime: tgt.authtime,
        starttime: Some(now.unix),
        endtime,
        renew_till,
        srealm: body.realm.clone(),
        sname: requested_sname.clone(),
        caddr: tgt.caddr.clone(),
    };
    // RFC 4120 §5.4.2: the reply is sealed with the authenticator subkey when there is one.
    let (reply_etype, reply_key, usage) = match &authenticator.subkey {
        Some(sub) => (
            Etype::from_i32(sub.keytype).ok_or(Refusal::new(code::KDC_ERR_ETYPE_NOSUPP, "subkey etype"))?,
            sub.keyvalue.clone(),
            key_usage::TGS_REP_ENC_PART_SUBKEY,
        ),
        None => (
            session_etype,
            tgt.key.keyvalue.clone(),
            key_usage::TGS_REP_ENC_PART_SESSION_KEY,
        ),
    };
    let cipher = reply_etype
        .encrypt(&reply_key, usage, &enc_part.to_der())
        .map_err(|_| Refusal::new(code::KRB_ERR_GENERIC, "subkey unusable"))?;
    tracing::info!(
        client = %tgt.cname.joined(),
        service = %requested_sname.joined(),
        realm = %realm,
        ticket_etype = ticket_etype.number(),
        session_etype = new_session_etype.number(),
        renew,
        "TGS ticket issued"
    );
    Ok(KdcRep {
        msg_type: msg_type::TGS_REP,
        padata: Vec::new(),
        crealm: tgt.crealm,
        cname: tgt.cname,
        ticket,
        enc_part: EncryptedData {
            etype: reply_etype.number(),
            kvno: None,
            cipher,
        },
    })
}

/// RFC 4120 §3.3.2 / §3.2.3: not yet valid, expired, or (renewal) past renew-till.
fn check_ticket_times(tgt: &EncTicketPart, now: i64, skew: i64, renew: bool) -> Result<(), Refusal> {
    if tgt.starttime.unwrap_or(tgt.authtime) > now + skew {
        return Err(Refusal::new(code::KRB_AP_ERR_TKT_NYV, "TGT not yet valid"));
    }
    if renew {
        if tgt.flags & ticket_flag::RENEWABLE == 0 {
            return Err(Refusal::new(code::KDC_ERR_BADOPTION, "TGT is not renewable"));
        }
        if tgt.renew_till.unwrap_or(tgt.endtime) < now {
            return Err(Refusal::new(code::KRB_AP_ERR_TKT_EXPIRED, "renew-till passed"));
        }
    } else if tgt.endtime < now - skew {
        return Err(Refusal::new(code::KRB_AP_ERR_TKT_EXPIRED, "TGT expired"));
    }
    Ok(())
}

/// The authenticator checksum, when present, must cover the req-body bytes exactly as sent
/// (RFC 4120 §3.3.2). An authenticator without one is accepted: AD does (impacket's
/// getKerberosTGS and kerbad send none and work against Windows DCs; docs/notes/client-interop.md §11),
/// where MIT and Samba answer KRB_AP_ERR_INAPP_CKSUM.
fn verify_body_checksum(
    auth: &Authenticator,
    etype: Etype,
    key: &[u8],
    body_raw: &[u8],
) -> Result<(), Refusal> {
    let Some(cksum) = auth.cksum.as_ref() else {
        return Ok(());
    };
    match crypto::verify_checksum(
        cksum.cksumtype,
        etype,
        key,
        key_usage::TGS_REQ_AUTH_CKSUM,
        body_raw,
        &cksum.checksum,
    ) {
        Ok(true) => Ok(()),
        Ok(false) => Err(Refusal::new(
            code::KRB_AP_ERR_MODIFIED,
            "req-body checksum mismatch",
        )),
        Err(CryptoError::UnsupportedChecksum(_)) => Err(Refusal::new(
            code::KDC_ERR_SUMTYPE_NOSUPP,
            "checksum type not supported",
        )),
        Err(_) => Err(Refusal::new(
            code::KRB_AP_ERR_INAPP_CKSUM,
            "checksum unusable with the session key",
        )),
    }
}

fn service_ticket_flags(tgt: &EncTicketPart, service: &KdcPrincipal, options: u32, renewable: bool) -> u32 {
    let mut flags = tgt.flags & ticket_flag::PRE_AUTHENT;
    if options & kdc_option::FORWARDABLE != 0 && tgt.flags & ticket_flag::FORWARDABLE != 0 {
        flags |= ticket_flag::FORWARDABLE;
    }
    if options & kdc_option::FORWARDED != 0 && tgt.flags & ticket_flag::FORWARDABLE != 0 {
        flags |= ticket_flag::FORWARDED;
    }
    if options & kdc_option::PROXIABLE != 0 && tgt.flags & ticket_flag::PROXIABLE != 0 {
        flags |= ticket_flag::PROXIABLE;
    }
    if renewable && tgt.flags & ticket_flag::RENEWABLE != 0 {
        flags |= ticket_flag::RENEWABLE;
    }
    // MS-KILE 3.3.5.7: ok-as-delegate for services trusted for delegation.
    if !service.is_krbtgt && service.user_account_control & uac::TRUSTED_FOR_DELEGATION != 0 {
        flags |= ticket_flag::OK_AS_DELEGATE;
    }
    flags
}

/// Verifies the TGT's PAC (it must carry our krbtgt signature) and re-signs the same buffers
/// for the new ticket's service: the groups are copied, never re-read.
fn resign_pac(
    pac_bytes: &[u8],
    krbtgt: &KdcPrincipal,
    server: SigningKey,
    kdc: SigningKey,
) -> Result<Vec<u8>, Refusal> {
    let modified = || Refusal::new(code::KRB_AP_ERR_MODIFIED, "TGT PAC signature invalid");
    let mut pac = Pac::from_bytes(pac_bytes).map_err(|_| modified())?;
    // The TGT's server signature was made with a krbtgt key: current or previous.
    let verified = krbtgt.keys.iter().chain(&krbtgt.previous_keys).any(|k| {
        Etype::from_i32(k.etype).is_some_and(|etype| {
            pac.verify_server_signature(SigningKey { etype, key: &k.key })
                .is_ok()
        })
    });
    if !verified {
        return Err(modified());
    }
    pac.sign(server, kdc).map_err(|_| modified())?;
    Ok(pac.to_bytes())
}
