//! python ldap3 must load adsim's published schema (issue 2 item 3): the rendered subschema values
//! go through ldap3's own parsers in schema_ldap3.py. CI installs ldap3; a missing python3 or ldap3
//! fails this test with a message saying what to install.

use std::process::Command;

use adsim_simulator::schema::Schema;

#[test]
fn ldap3_parses_the_rendered_subschema() {
    let schema = Schema::ad();
    let rendered = serde_json::json!({
        "attributeTypes": schema.render_attribute_types(),
        "objectClasses": schema.render_object_classes(),
        "dITContentRules": schema.render_dit_content_rules(),
    });
    let dir = std::env::temp_dir().join(format!("adsim-schema-ldap3-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let json_path = dir.join("subschema.json");
    std::fs::write(&json_path, rendered.to_string()).expect("write rendered schema");

    let probe = Command::new("python3").args(["-c", "import ldap3"]).output();
    match probe {
        Err(e) => panic!("python3 is required for this test (apt-get install python3): {e}"),
        Ok(out) if !out.status.success() => {
            panic!(
                "python ldap3 is required for this test (pip install ldap3): {}",
                String::from_utf8_lossy(&out.stderr)
            )
        }
        Ok(_) => {}
    }

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/schema_ldap3.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(&json_path)
        .output()
        .expect("run schema_ldap3.py");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "ldap3 rejected the rendered schema:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
