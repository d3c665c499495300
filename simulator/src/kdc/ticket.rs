//! Building, encrypting and opening tickets, and the PAC they carry.

use thiserror::Error;

use super::crypto::{CryptoError, Etype};
use super::db::{uac, KdcPrincipal, KerberosKey};
use super::der::DerError;
use super::key_usage;
use super::messages::{
    ad_type, decode_authorization_data, encode_authorization_data, AuthorizationDataEntry, EncTicketPart,
    EncryptedData, Ticket,
};
use super::pac::{
    self, ClientInfo, GroupMembership, LogonInfo, Pac, PacContents, PacError, SidAndAttributes,
};
use crate::clock::NtTime;
use crate::security::Sid;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TicketError {
    #[error("no key for the ticket's etype/kvno")]
    NoKey,
    #[error("ticket does not decrypt: {0}")]
    Crypto(#[from] CryptoError),
    #[error("ticket encoding: {0}")]
    Der(#[from] DerError),
    #[error("ticket has no PAC")]
    NoPac,
    #[error("PAC: {0}")]
    Pac(#[from] PacError),
}

/// Encrypts an EncTicketPart with the service key into a Ticket.
pub fn seal(
    part: &EncTicketPart,
    realm: &str,
    sname: &super::messages::PrincipalName,
    etype: Etype,
    key: &KerberosKey,
) -> Result<Ticket, CryptoError> {
    let cipher = etype.encrypt(&key.key, key_usage::KDC_REP_TICKET, &part.to_der())?;
    Ok(Ticket {
        realm: realm.to_string(),
        sname: sname.clone(),
        enc_part: EncryptedData {
            etype: etype.number(),
            kvno: Some(key.kvno),
            cipher,
        },
    })
}

/// Decrypts a ticket with whichever of `keys` matches its etype and kvno.
pub fn open(ticket: &Ticket, keys: &[KerberosKey]) -> Result<(EncTicketPart, KerberosKey), TicketError> {
    let etype = Etype::from_i32(ticket.enc_part.etype).ok_or(TicketError::NoKey)?;
    let key = keys
        .iter()
        .find(|k| k.etype == ticket.enc_part.etype && ticket.enc_part.kvno.is_none_or(|v| v == k.kvno))
        .ok_or(TicketError::NoKey)?;
    let plain = etype.decrypt(&key.key, key_usage::KDC_REP_TICKET, &ticket.enc_part.cipher)?;
    Ok((EncTicketPart::from_der(&plain)?, key.clone()))
}

/// Wraps a PAC as AD-IF-RELEVANT { AD-WIN2K-PAC } (MS-PAC 2.1).
pub fn pac_authorization_data(pac_bytes: Vec<u8>) -> Vec<AuthorizationDataEntry> {
    let inner = encode_authorization_data(&[AuthorizationDataEntry {
        ad_type: ad_type::AD_WIN2K_PAC,
        ad_data: pac_bytes,
    }]);
    vec![AuthorizationDataEntry {
        ad_type: ad_type::AD_IF_RELEVANT,
        ad_data: inner,
    }]
}

/// The PAC bytes inside a ticket's authorization data, if any.
pub fn find_pac(part: &EncTicketPart) -> Option<Vec<u8>> {
    part.authorization_data.as_ref()?.iter().find_map(|entry| {
        if entry.ad_type != ad_type::AD_IF_RELEVANT {
            return None;
        }
        decode_authorization_data(&entry.ad_data)
            .ok()?
            .into_iter()
            .find(|e| e.ad_type == ad_type::AD_WIN2K_PAC)
            .map(|e| e.ad_data)
    })
}

/// Opens a service ticket with the service's keys, checks the PAC's server signature and
/// returns the PAC's KERB_VALIDATION_INFO: the groups as frozen in the ticket.
pub fn logon_info_from_ticket(
    ticket: &Ticket,
    service_keys: &[KerberosKey],
) -> Result<LogonInfo, TicketError> {
    let (part, key) = open(ticket, service_keys)?;
    let pac = Pac::from_bytes(&find_pac(&part).ok_or(TicketError::NoPac)?)?;
    let etype = Etype::from_i32(key.etype).ok_or(TicketError::NoKey)?;
    pac.verify_server_signature(pac::SigningKey { etype, key: &key.key })?;
    Ok(pac.logon_info()?)
}

/// The PAC contents for `client` at `authtime` (MS-PAC 2.5–2.15, MS-KILE 3.3.5.6.4).
pub fn pac_contents(
    client: &KdcPrincipal,
    authtime: NtTime,
    logon_server: &str,
    pac_requested: bool,
) -> PacContents {
    let domain_sid = client
        .user_sid
        .parent()
        .unwrap_or_else(|| client.user_sid.clone());
    let mut group_ids: Vec<GroupMembership> = Vec::new();
    let mut extra_sids: Vec<SidAndAttributes> = Vec::new();
    let add_domain_rid = |rid: u32, group_ids: &mut Vec<GroupMembership>| {
        if !group_ids.iter().any(|g| g.relative_id == rid) {
            group_ids.push(GroupMembership {
                relative_id: rid,
                attributes: pac::SE_GROUP_DEFAULT,
            });
        }
    };
    // The primary group is always among GroupIds (MS-PAC 2.5: PrimaryGroupId is also listed).
    add_domain_rid(client.primary_group_rid, &mut group_ids);
    for sid in &client.group_sids {
        match (sid.parent(), sid.rid()) {
            (Some(parent), Some(rid)) if parent == domain_sid => add_domain_rid(rid, &mut group_ids),
            _ if !extra_sids.iter().any(|e| &e.sid == sid) => extra_sids.push(SidAndAttributes {
                sid: sid.clone(),
                attributes: pac::SE_GROUP_DEFAULT,
            }),
            _ => {}
        }
    }
    // Windows Server 2012+ KDCs add S-1-18-1 for a key-based (password) authentication.
    if let Ok(asserted) = pac::AUTHENTICATION_AUTHORITY_ASSERTED_IDENTITY.parse::<Sid>() {
        if !extra_sids.iter().any(|e| e.sid == asserted) {
            extra_sids.push(SidAndAttributes {
                sid: asserted,
                attributes: pac::SE_GROUP_DEFAULT,
            });
        }
    }
    let uf = client.user_account_control;
    let pwd = pac::filetime(client.pwd_last_set);
    // Password policy is not in the KDC's view: Default Domain Policy values (1 day minimum
    // age, 42 days maximum); machine accounts and DONT_EXPIRE_PASSWORD never expire.
    let never_expires =
        uf & (uac::DONT_EXPIRE_PASSWORD | uac::WORKSTATION_TRUST_ACCOUNT | uac::SERVER_TRUST_ACCOUNT) != 0;
    const DAY: u64 = 86_400 * 10_000_000;
    let must_change = if pwd == 0 {
        0
    } else if never_expires {
        pac::NEVER
    } else {
        pwd.saturating_add(42 * DAY)
    };
    let mut user_flags = 0;
    if !extra_sids.is_empty() {
        user_flags |= pac::LOGON_EXTRA_SIDS;
    }
    let upn_constructed = client.upn.is_none();
    let upn = client
        .upn
        .clone()
        .unwrap_or_else(|| format!("{}@{}", client.sam_account_name, client.dns_domain.to_lowercase()));
    let authtime_ft = pac::filetime(authtime);
    PacContents {
        logon_info: LogonInfo {
            logon_time: authtime_ft,
            logoff_time: pac::NEVER,
            kick_off_time: pac::NEVER,
            password_last_set: pwd,
            password_can_change: if pwd == 0 { 0 } else { pwd.saturating_add(DAY) },
            password_must_change: must_change,
            effective_name: client.sam_account_name.clone(),
            full_name: client.display_name.clone().unwrap_or_default(),
            logon_script: String::new(),
            profile_path: String::new(),
            home_directory: String::new(),
            home_directory_drive: String::new(),
            logon_count: client.logon_count.min(u32::from(u16::MAX)) as u16,
            bad_password_count: 0,
            user_id: client.user_sid.rid().unwrap_or(0),
            primary_group_id: client.primary_group_rid,
            group_ids,
            user_flags,
            logon_server: logon_server.to_string(),
            logon_domain_name: client.netbios_domain.clone(),
            logon_domain_id: domain_sid,
            user_account_control: pac::user_account_control_to_pac(uf),
            extra_sids,
        },
        client_info: ClientInfo {
            client_id: authtime_ft,
            name: client.sam_account_name.clone(),
        },
        upn_dns_info: pac::UpnDnsInfo {
            upn,
            dns_domain_name: client.dns_domain.to_uppercase(),
            upn_constructed,
            sam_name: Some(client.sam_account_name.clone()),
            sid: Some(client.user_sid.clone()),
        },
        // MS-PAC 2.14: PAC_WAS_REQUESTED (0x1) when the client asked, else given implicitly (0x2).
        attributes: Some(if pac_requested { 0x1 } else { 0x2 }),
        requestor: Some(client.user_sid.clone()),
    }
}
