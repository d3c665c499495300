//! `adsim ps`: the PowerShell the gMSA guides use, run against a forest. Three parts, each
//! sans-I/O: [`lexer`] (tokens), [`parser`] (statements), [`eval`] (the interpreter, over a
//! [`eval::Backend`]); [`format`] prints objects as PowerShell does; [`ControlBackend`] is the
//! backend over a running server's control API.

pub mod eval;
pub mod format;
pub mod lexer;
pub mod parser;

use adsim_simulator::clock::NtTime;
use serde_json::{Map, Value};

use crate::control::{Client, CmdletAnswer};
use eval::{Answer, Backend};

/// The control API as the backend, the cmdlets running on `host` when given.
pub struct ControlBackend {
    pub client: Client,
    pub host: Option<String>,
}

impl Backend for ControlBackend {
    async fn cmdlet(
        &mut self,
        name: &str,
        named: Map<String, Value>,
        positional: Vec<Value>,
    ) -> Result<Answer, String> {
        let r = self
            .client
            .cmdlet(name, &named, &positional, self.host.as_deref())
            .await
            .map_err(|e| e.to_string())?;
        let a = CmdletAnswer::from_response(&r).map_err(|e| e.to_string())?;
        Ok(Answer {
            output: a.output,
            warnings: a.warnings,
            error: a.error,
        })
    }

    async fn klist_purge(&mut self) -> Result<(), String> {
        let host = self
            .host
            .clone()
            .ok_or("klist purge acts on a member host: run adsim ps --host NAME")?;
        self.client
            .klist_purge(&host)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    async fn restart(&mut self, host: Option<&str>) -> Result<(), String> {
        let host = host
            .map(str::to_string)
            .or_else(|| self.host.clone())
            .ok_or("Restart-Computer needs -ComputerName or adsim ps --host NAME")?;
        self.client
            .restart_host(&host)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    async fn now(&mut self) -> Result<NtTime, String> {
        let c: crate::control::Clock = self
            .client
            .clock()
            .await
            .and_then(|r| r.parse())
            .map_err(|e| e.to_string())?;
        Ok(NtTime(c.nttime))
    }

    fn host(&self) -> Option<String> {
        self.host.clone()
    }

    /// What Windows sets for the root domain's Administrator logged on to the host (or, with
    /// no --host, to the DC): USERDNSDOMAIN the DNS domain in upper case, USERDOMAIN the
    /// NetBIOS name, COMPUTERNAME the computer's NetBIOS name (about_Environment_Variables;
    /// the values of a logon to a domain, as `set` shows them on Windows).
    async fn environment(&mut self) -> Result<Vec<(String, String)>, String> {
        let h = self
            .client
            .health()
            .await
            .and_then(|r| r.json())
            .map_err(|e| e.to_string())?;
        let field = |k: &str| h.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_string();
        let computer = self
            .host
            .clone()
            .unwrap_or_else(|| field("dc").split('.').next().unwrap_or_default().to_string());
        Ok(vec![
            ("USERDNSDOMAIN".into(), field("domain").to_uppercase()),
            ("USERDOMAIN".into(), field("netbios")),
            ("USERNAME".into(), "Administrator".into()),
            ("COMPUTERNAME".into(), computer.to_uppercase()),
        ])
    }
}
