//! `adsim ps` end to end: each gMSA guide's PowerShell (examples/ps/) against `adsim serve`,
//! with the expected output of every line (examples/ps/expected/), the member hosts' ticket
//! caches (a host added to the group fails until `klist purge`), PowerShell's error displays,
//! and a real LDAP client (ldapsearch) reading what the scripts created.

use std::path::PathBuf;
use std::process::Output;

use crate::common::*;

const START: &str = "2026-01-01T00:00:00Z";

fn script(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples/ps")
        .join(name)
        .display()
        .to_string()
}

fn expected(name: &str) -> String {
    std::fs::read_to_string(script(&format!("expected/{name}"))).unwrap()
}

fn ps(a: &Adsim, host: Option<&str>, args: &[&str]) -> Output {
    let mut all = vec!["ps"];
    if let Some(h) = host {
        all.extend(["--host", h]);
    }
    all.extend_from_slice(args);
    a.cli(&all)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Runs a script or `-c` line, asserting its exit status; returns its output.
fn run(a: &Adsim, host: Option<&str>, args: &[&str], code: i32) -> String {
    let o = ps(a, host, args);
    assert_eq!(o.status.code(), Some(code), "adsim ps {args:?}: {}", text(&o));
    stdout(&o)
}

/// Property names of `Name : Value` lines, in order.
fn names(list: &str) -> Vec<String> {
    list.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            l.split_once(" : ")
                .or_else(|| l.strip_suffix(" :").map(|n| (n, "")))
        })
        .map(|(n, _)| n.trim().to_string())
        .collect()
}

/// The value of property `name` in a list.
fn value(list: &str, name: &str) -> String {
    list.lines()
        .find_map(|l| {
            let (n, v) = l
                .split_once(" : ")
                .or_else(|| l.strip_suffix(" :").map(|n| (n, "")))?;
            (n.trim() == name).then(|| v.to_string())
        })
        .unwrap_or_else(|| panic!("no {name} in\n{list}"))
}

fn ldap_attr(a: &Adsim, dn: &str, attr: &str) -> Vec<String> {
    let o = a.as_admin(
        "ldapsearch",
        &a.ldaps(),
        &["-LLL", "-b", dn, "-s", "base", attr],
        None,
    );
    let out = text(&o);
    out.replace("\n ", "")
        .lines()
        .filter_map(|l| l.strip_prefix(&format!("{attr}: ")).map(str::to_string))
        .collect()
}

#[test]
fn microsoft_manage_gmsa_guide_line_by_line() {
    let a = Adsim::start(&["--start-time", START]);
    let out = run(&a, None, &[&script("microsoft-manage-gmsa.ps1")], 0);
    assert_eq!(out, expected("microsoft-manage-gmsa.out"));

    // The default property set, names and order, as Microsoft Learn's Get-ADServiceAccount
    // example 1 shows it.
    let default = run(&a, None, &["-c", "Get-ADServiceAccount gmsa-web"], 0);
    assert_eq!(
        names(&default),
        names(&expected("get-adserviceaccount-default.txt"))
    );
    // -Properties *: derived properties under PowerShell's names, sorted.
    let all = run(
        &a,
        None,
        &["-c", "Get-ADServiceAccount -Identity gmsa-web -Properties *"],
        0,
    );
    let n = names(&all);
    for want in [
        "DNSHostName",
        "Enabled",
        "KerberosEncryptionType",
        "ManagedPasswordIntervalInDays",
        "PrincipalsAllowedToRetrieveManagedPassword",
        "SamAccountName",
        "ServicePrincipalNames",
        "SID",
        "ObjectGUID",
        "DistinguishedName",
        "msDS-GroupMSAMembership",
    ] {
        assert!(n.iter().any(|x| x == want), "{want} missing from\n{all}");
    }
    let mut sorted = n.clone();
    sorted.sort_by_key(|x| x.to_ascii_lowercase());
    assert_eq!(n, sorted);
    assert_eq!(value(&all, "KerberosEncryptionType"), "{RC4, AES128, AES256}");
    assert_eq!(
        value(&all, "msDS-GroupMSAMembership"),
        "System.DirectoryServices.ActiveDirectorySecurity"
    );
    assert_eq!(value(&all, "ManagedPasswordIntervalInDays"), "30");
    assert_eq!(value(&all, "DisplayName"), "Web farm");
    assert_eq!(
        value(&all, "PrincipalsAllowedToRetrieveManagedPassword"),
        format!("{{CN=gmsa-web-hosts,CN=Users,{}}}", a.base())
    );

    // A standalone MSA: created with -RestrictToSingleComputer, linked to the host that
    // installs it, unusable elsewhere.
    run(
        &a,
        None,
        &["-c", "New-ADServiceAccount -Name smsa1 -RestrictToSingleComputer"],
        0,
    );
    let host = run(
        &a,
        Some("WEB01"),
        &[
            "-c",
            "Install-ADServiceAccount smsa1; Test-ADServiceAccount smsa1",
        ],
        0,
    );
    assert_eq!(host, "True\n");
    let linked = run(
        &a,
        None,
        &[
            "-c",
            "Get-ADServiceAccount smsa1 | Select-Object ObjectClass, HostComputers",
        ],
        0,
    );
    assert!(
        linked.contains(&format!(
            "msDS-ManagedServiceAccount {{CN=WEB01,CN=Computers,{}}}",
            a.base()
        )),
        "{linked}"
    );
    assert!(run(&a, Some("WEB02"), &["-c", "Test-ADServiceAccount smsa1"], 0).ends_with("False\n"));
    let set = run(
        &a,
        None,
        &[
            "-c",
            "New-ADServiceAccount -Name smsa2 -RestrictToSingleComputer -DNSHostName x",
        ],
        1,
    );
    assert!(
        set.contains(
            "AmbiguousParameterSet,Microsoft.ActiveDirectory.Management.Commands.NewADServiceAccount"
        ),
        "{set}"
    );

    // The host steps on WEB01 (in the group, never logged on before).
    let host = run(&a, Some("WEB01"), &[&script("microsoft-host.ps1")], 0);
    assert_eq!(host, "True\nTrue\n");
    // WEB02 was removed from the group: the test fails with the module's warning.
    let web02 = run(&a, Some("WEB02"), &["-c", "Test-ADServiceAccount gmsa-web"], 0);
    assert!(
        web02.starts_with("WARNING: Test failed for Managed Service Account gmsa-web."),
        "{web02}"
    );
    assert!(web02.ends_with("False\n"), "{web02}");

    // A real client sees what the script wrote.
    let base = a.base();
    let dn = format!("CN=gmsa-web,CN=Managed Service Accounts,{base}");
    assert_eq!(ldap_attr(&a, &dn, "displayName"), vec!["Web farm"]);
    assert_eq!(
        ldap_attr(&a, &dn, "dNSHostName"),
        vec!["gmsa-web.corp.example.test"]
    );
    let out_dn = format!("CN=gmsa-out,CN=Managed Service Accounts,{base}");
    assert_eq!(ldap_attr(&a, &out_dn, "msDS-ManagedPasswordInterval"), vec!["60"]);
    let group = format!("CN=gmsa-web-hosts,CN=Users,{base}");
    assert_eq!(
        ldap_attr(&a, &group, "member"),
        vec![format!("CN=WEB01,CN=Computers,{base}")]
    );
}

#[test]
fn veeam_guide_needs_a_klist_purge_after_the_group_change() {
    let a = Adsim::start(&["--start-time", START]);
    assert_eq!(run(&a, None, &[&script("veeam-admin.ps1")], 0), "");
    // The proxy logs on (Test-ADServiceAccount) before it is in the group…
    let before = run(
        &a,
        Some("PROXY01"),
        &["-c", "Test-ADServiceAccount -Identity gmsa-veeam"],
        0,
    );
    assert!(before.ends_with("False\n"), "{before}");
    assert_eq!(run(&a, None, &[&script("veeam-add-hosts.ps1")], 0), "");
    // …so its cached TGT still carries the old groups: install and test fail.
    let stale = run(&a, Some("PROXY01"), &[&script("veeam-host.ps1")], 1);
    assert!(
        stale.starts_with("Install-ADServiceAccount : Cannot install service account. Error Message: '{Access Denied} A process has requested access to an object, but has not been granted those access rights.'.\n"),
        "{stale}"
    );
    assert!(stale.contains("    + FullyQualifiedErrorId : InstallADServiceAccount:PerformOperation,Microsoft.ActiveDirectory.Management.Commands.InstallADServiceAccount\n"), "{stale}");
    assert!(stale.ends_with("False\n"), "{stale}");
    // klist -lh 0 -li 0x3e7 purge, then both work.
    let purge = run(&a, Some("PROXY01"), &["-c", "klist -lh 0 -li 0x3e7 purge"], 0);
    assert_eq!(
        purge,
        "\nTargeted LogonId is 0:0x3e7\n\tDeleting all tickets:\n\tTicket(s) purged!\n"
    );
    assert_eq!(
        run(&a, Some("PROXY01"), &[&script("veeam-host.ps1")], 0),
        "True\n"
    );
    // The target logs on for the first time after the change: no purge needed.
    assert_eq!(
        run(&a, Some("TARGET01"), &[&script("veeam-host.ps1")], 0),
        "True\n"
    );
    run(
        &a,
        Some("TARGET01"),
        &[
            "-c",
            "Add-LocalGroupMember -Group Administrators -Member CORP\\gmsa-veeam$",
        ],
        0,
    );
    let hosts = a.cli_ok(&["ctl", "hosts"]);
    let v: serde_json::Value = serde_json::from_str(&hosts).unwrap();
    let target = v["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == "TARGET01")
        .unwrap();
    assert_eq!(target["installed"], serde_json::json!(["gmsa-veeam$"]));
    assert_eq!(
        target["local_groups"]["Administrators"],
        serde_json::json!(["CORP\\gmsa-veeam$"])
    );

    // A removal is also stale until a reboot: TARGET01 leaves the group, still passes, then
    // fails after restart_host.
    run(
        &a,
        None,
        &[
            "-c",
            "Remove-ADGroupMember -Identity veeam-gmsa-hosts -Members TARGET01$ -Confirm:$false",
        ],
        0,
    );
    assert_eq!(
        run(
            &a,
            Some("TARGET01"),
            &["-c", "Test-ADServiceAccount gmsa-veeam"],
            0
        ),
        "True\n"
    );
    a.cli_ok(&["ctl", "restart-host", "TARGET01"]);
    assert!(run(
        &a,
        Some("TARGET01"),
        &["-c", "Test-ADServiceAccount gmsa-veeam"],
        0
    )
    .ends_with("False\n"));

    // ldapsearch sees the gMSA with its allowed group.
    let dn = format!("CN=gmsa-veeam,CN=Managed Service Accounts,{}", a.base());
    assert_eq!(ldap_attr(&a, &dn, "sAMAccountName"), vec!["gmsa-veeam$"]);
}

#[test]
fn defender_action_account_and_errors_as_powershell_prints_them() {
    let a = Adsim::start(&["--start-time", START, "--child-domain", "emea"]);
    let out = run(&a, None, &[&script("defender-action-account.ps1")], 0);
    assert_eq!(out, expected("defender-action-account.out"));

    // The same name in another domain of the forest.
    let dup = run(
        &a,
        None,
        &["-c", "New-ADServiceAccount -Name mdiSvc01 -DNSHostName mdiSvc01.emea.corp.example.test -Server emea.corp.example.test"],
        1,
    );
    assert!(dup.starts_with("New-ADServiceAccount : "), "{dup}");
    assert!(
        dup.contains("At line:1 char:1\n+ New-ADServiceAccount -Name mdiSvc01"),
        "{dup}"
    );
    assert!(dup.contains("FullyQualifiedErrorId : ActiveDirectoryServer:8571,Microsoft.ActiveDirectory.Management.Commands.NewADServiceAccount"), "{dup}");
    // The interval cannot be changed: Set-ADServiceAccount has no such parameter.
    let interval = run(
        &a,
        None,
        &[
            "-c",
            "Set-ADServiceAccount -Identity mdiSvc01 -ManagedPasswordIntervalInDays 60",
        ],
        1,
    );
    let line = "Set-ADServiceAccount -Identity mdiSvc01 -ManagedPasswordIntervalInDays 60";
    assert_eq!(
        interval,
        format!(
            "Set-ADServiceAccount : A parameter cannot be found that matches parameter name 'ManagedPasswordIntervalInDays'.\nAt line:1 char:1\n+ {line}\n+ {}\n    + CategoryInfo          : InvalidArgument: (:) [Set-ADServiceAccount], ParameterBindingException\n    + FullyQualifiedErrorId : NamedParameterNotFound,Microsoft.ActiveDirectory.Management.Commands.SetADServiceAccount\n \n",
            "~".repeat(line.len())
        )
    );
    // Unknown syntax: named, with its position, nothing run.
    let o = ps(
        &a,
        None,
        &["-c", "New-ADGroup -Name g -GroupScope Global\nwhile ($true) { }"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("line 2, column 1: unsupported syntax: the 'while' statement"),
        "{}",
        text(&o)
    );
    assert!(run(&a, None, &["-c", "Get-ADGroup g"], 1)
        .contains("Cannot find an object with identity: 'g' under: 'DC=corp,DC=example,DC=test'."));

    // A real client sees the gMSA, its encryption types (AES128 | AES256) and the group's
    // members the pipeline added.
    let base = a.base();
    let dn = format!("CN=mdiSvc01,CN=Managed Service Accounts,{base}");
    assert_eq!(
        ldap_attr(&a, &dn, "dNSHostName"),
        vec!["mdiSvc01.CORP.EXAMPLE.TEST"]
    );
    assert_eq!(ldap_attr(&a, &dn, "msDS-SupportedEncryptionTypes"), vec!["24"]);
    let mut members = ldap_attr(&a, &format!("CN=mdiSvc01Group,CN=Users,{base}"), "member");
    members.sort();
    assert_eq!(
        members,
        vec![
            format!("CN=DC1,OU=Domain Controllers,{base}"),
            format!("CN=SENSOR1,CN=Computers,{base}"),
            format!("CN=SENSOR2,CN=Computers,{base}"),
        ]
    );
}

#[test]
fn get_adcomputer_filters_pipelines_and_passthru() {
    let a = Adsim::start(&["--start-time", START]);
    let base = a.base();
    let setup = "$p = ConvertTo-SecureString 'Host-Passw0rd!' -AsPlainText -Force\n'WEB01', 'WEB02', 'APP01' | ForEach-Object { New-ADComputer -Name $_ -AccountPassword $p -Enabled $true }\nNew-ADComputer -Name OLD01";
    assert_eq!(run(&a, None, &["-c", setup], 0), "");

    // The default ADComputer view, and a missing computer as the module reports it.
    let web01 = run(&a, None, &["-c", "Get-ADComputer WEB01"], 0);
    assert_eq!(
        names(&web01),
        [
            "DistinguishedName",
            "DNSHostName",
            "Enabled",
            "Name",
            "ObjectClass",
            "ObjectGUID",
            "SamAccountName",
            "SID",
            "UserPrincipalName"
        ]
    );
    assert_eq!(
        value(&web01, "DistinguishedName"),
        format!("CN=WEB01,CN=Computers,{base}")
    );
    assert_eq!(value(&web01, "DNSHostName"), "web01.corp.example.test");
    assert_eq!(value(&web01, "SamAccountName"), "WEB01$");
    let line = "Get-ADComputer -Identity NOPE";
    assert_eq!(
        run(&a, None, &["-c", line], 1),
        format!("Get-ADComputer : Cannot find an object with identity: 'NOPE' under: '{base}'.\nAt line:1 char:1\n+ {line}\n+ {}\n    + CategoryInfo          : ObjectNotFound: (NOPE:String) [Get-ADComputer], ADIdentityNotFoundException\n    + FullyQualifiedErrorId : ActiveDirectoryCmdlet:Microsoft.ActiveDirectory.Management.ADIdentityNotFoundException,Microsoft.ActiveDirectory.Management.Commands.GetADComputer\n \n", "~".repeat(line.len()))
    );
    // A group is not a computer.
    assert!(
        run(&a, None, &["-c", "Get-ADComputer -Identity 'Domain Admins'"], 1)
            .contains("Cannot find an object with identity: 'Domain Admins'")
    );

    // -Filter, as a string or a script block, through the directory.
    let names_of = |cmd: &str| -> Vec<String> {
        let mut v: Vec<String> = run(&a, None, &["-c", &format!("{cmd} | ForEach-Object Name")], 0)
            .lines()
            .map(str::to_string)
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        names_of("Get-ADComputer -Filter \"Name -like 'web*'\""),
        ["WEB01", "WEB02"]
    );
    assert_eq!(
        names_of("Get-ADComputer -Filter { Name -like 'WEB*' -and Name -ne 'web02' }"),
        ["WEB01"]
    );
    assert_eq!(names_of("Get-ADComputer -Filter 'Enabled -eq $false'"), ["OLD01"]);
    assert_eq!(
        names_of("Get-ADComputer -Filter \"(Name -eq 'APP01') -or (DNSHostName -like 'old01.*')\""),
        ["APP01", "OLD01"]
    );
    assert_eq!(names_of("Get-ADComputer -LDAPFilter '(cn=app*)'"), ["APP01"]);
    assert_eq!(
        names_of("Get-ADComputer -Filter * | Where-Object { $_.Name -like '*01' -and $_.Enabled }"),
        ["APP01", "WEB01"]
    );
    assert_eq!(
        names_of("Get-ADGroup -Filter \"Name -like 'Domain C*'\""),
        ["Domain Computers", "Domain Controllers"]
    );
    assert_eq!(
        names_of("Get-ADUser -Filter \"SamAccountName -eq 'Administrator'\""),
        ["Administrator"]
    );
    // An operator the module does not have: its parse error, with the position.
    let line = "Get-ADComputer -Filter \"Name -foo 'x'\"";
    assert_eq!(
        run(&a, None, &["-c", line], 1),
        format!("Get-ADComputer : Error parsing query: 'Name -foo 'x'' Error Message: 'Operator Not supported: -foo' at position: '6'.\nAt line:1 char:1\n+ {line}\n+ {}\n    + CategoryInfo          : ParserError: (:) [Get-ADComputer], ADFilterParsingException\n    + FullyQualifiedErrorId : ActiveDirectoryCmdlet:Microsoft.ActiveDirectory.Management.ADFilterParsingException,Microsoft.ActiveDirectory.Management.Commands.GetADComputer\n \n", "~".repeat(line.len()))
    );
    assert!(run(&a, None, &["-c", "Get-ADComputer -LDAPFilter '(cn=app'"], 1)
        .contains("The search filter cannot be recognized"));

    // -PassThru returns the object; without it, nothing.
    assert_eq!(
        run(
            &a,
            None,
            &["-c", "New-ADGroup -Name web-hosts -GroupScope Global"],
            0
        ),
        ""
    );
    assert_eq!(
        run(
            &a,
            None,
            &["-c", "Add-ADGroupMember -Identity web-hosts -Members WEB01$"],
            0
        ),
        ""
    );
    let group = run(
        &a,
        None,
        &[
            "-c",
            "Add-ADGroupMember -Identity web-hosts -Members (Get-ADComputer WEB02) -PassThru",
        ],
        0,
    );
    assert_eq!(
        value(&group, "DistinguishedName"),
        format!("CN=web-hosts,CN=Users,{base}")
    );
    assert_eq!(value(&group, "GroupScope"), "Global");
    let computer = run(&a, None, &["-c", "New-ADComputer -Name WEB03 -PassThru"], 0);
    assert_eq!(value(&computer, "Enabled"), "False");
    assert_eq!(value(&computer, "SamAccountName"), "WEB03$");
    assert_eq!(
        ldap_attr(&a, &format!("CN=web-hosts,CN=Users,{base}"), "member").len(),
        2
    );
    // $env: as Windows sets it for the administrator's logon.
    assert_eq!(
        run(
            &a,
            Some("WEB01"),
            &[
                "-c",
                "\"$env:USERDOMAIN\\$env:COMPUTERNAME in $env:USERDNSDOMAIN [$env:NOPE]\""
            ],
            0
        ),
        "CORP\\WEB01 in CORP.EXAMPLE.TEST []\n"
    );
}

#[test]
fn no_root_key_and_the_kds_event_log() {
    let a = Adsim::start(&["--start-time", START, "--kds-root-key", "none"]);
    let e = run(
        &a,
        None,
        &[
            "-c",
            "New-ADServiceAccount -Name svc -DNSHostName svc.corp.example.test",
        ],
        1,
    );
    assert!(
        e.starts_with("New-ADServiceAccount : Key does not exist\nAt line:1 char:1\n"),
        "{e}"
    );
    assert!(e.contains("    + CategoryInfo          : NotSpecified: (CN=svc,CN=Managed Service Accounts,DC=corp,DC=example,DC=test:String) [New-ADServiceAccount], ADException\n"), "{e}");
    assert!(a.cli_ok(&["ctl", "events"]).contains("\"events\":[]"));
    let key = run(
        &a,
        None,
        &["-c", "Add-KdsRootKey -EffectiveTime ((Get-Date).AddHours(-10))"],
        0,
    );
    let id = key.lines().nth(3).unwrap().to_string();
    assert_eq!(key, format!("\nGuid\n----\n{id}\n\n"));
    let events: serde_json::Value = serde_json::from_str(&a.cli_ok(&["ctl", "events"])).unwrap();
    let ev = &events["events"][0];
    assert_eq!(ev["event_id"], 4004);
    assert_eq!(ev["channel"], "Microsoft-Windows-KdsSvc/Operational");
    assert_eq!(
        ev["message"],
        format!("Group Key Distribution Service created a master root key in AD.  The key ID is {id}.")
    );
    let keys = run(
        &a,
        None,
        &[
            "-c",
            "Get-KdsRootKey | Select-Object KeyId, EffectiveTime, VersionNumber",
        ],
        0,
    );
    assert_eq!(keys, format!("\nKeyId                                EffectiveTime         VersionNumber\n-----                                -------------         -------------\n{id} 12/31/2025 2:00:00 PM 1\n\n"));
    // adsim's KDS selects a key for a new gMSA only once its effective time is 10 hours and
    // the 5-minute skew old (kds::select::select_for_new_gmsa), so the guides' lab line
    // `-EffectiveTime ((Get-Date).AddHours(-10))` needs the clock 5 minutes on.
    run(
        &a,
        None,
        &[
            "-c",
            "New-ADServiceAccount -Name svc -DNSHostName svc.corp.example.test",
        ],
        1,
    );
    a.cli_ok(&["ctl", "clock", "--advance", "5m"]);
    run(
        &a,
        None,
        &[
            "-c",
            "New-ADServiceAccount -Name svc -DNSHostName svc.corp.example.test",
        ],
        0,
    );
}
