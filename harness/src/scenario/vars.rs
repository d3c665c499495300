//! Scenario variables: values captured by earlier steps and the forest's own names
//! (`${base_dn}`, `${realm.child}`…), substituted into every string of a step as `${name}`.

use std::collections::BTreeMap;

/// Variable names and values. Values of secrets (managed passwords) are stored as hex, and
/// reports show a fingerprint of them only.
#[derive(Default, Clone)]
pub struct Vars {
    values: BTreeMap<String, String>,
}

impl std::fmt::Debug for Vars {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.values.keys()).finish()
    }
}

impl Vars {
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        self.values.insert(name.to_string(), value.into());
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Replaces every `${name}` in `text`; an unknown name is an error.
    pub fn substitute(&self, text: &str) -> Result<String, String> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| format!("unterminated ${{ in {text:?}"))?;
            let name = &after[..end];
            let value = self.get(name).ok_or_else(|| {
                format!("variable ${{{name}}} is not defined (no earlier step captured it)")
            })?;
            out.push_str(value);
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// Substitutes into every string of a TOML value, keys included.
    pub fn substitute_value(&self, v: &toml::Value) -> Result<toml::Value, String> {
        Ok(match v {
            toml::Value::String(s) => toml::Value::String(self.substitute(s)?),
            toml::Value::Array(a) => toml::Value::Array(
                a.iter()
                    .map(|x| self.substitute_value(x))
                    .collect::<Result<_, _>>()?,
            ),
            toml::Value::Table(t) => toml::Value::Table(self.substitute_table(t)?),
            other => other.clone(),
        })
    }

    pub fn substitute_table(&self, t: &toml::Table) -> Result<toml::Table, String> {
        t.iter()
            .map(|(k, v)| Ok((self.substitute(k)?, self.substitute_value(v)?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitutes_known_and_refuses_unknown_names() {
        let mut v = Vars::default();
        v.set("base_dn", "DC=corp,DC=example,DC=test");
        assert_eq!(
            v.substitute("CN=x,${base_dn}").unwrap(),
            "CN=x,DC=corp,DC=example,DC=test"
        );
        assert_eq!(v.substitute("no vars").unwrap(), "no vars");
        assert!(v.substitute("${nope}").unwrap_err().contains("nope"));
        assert!(v.substitute("${base_dn").is_err());
        let t: toml::Table = toml::from_str("a = [\"${base_dn}\"]\n[b]\nc = \"${base_dn}\"").unwrap();
        let out = v.substitute_table(&t).unwrap();
        assert_eq!(out["b"]["c"].as_str(), Some("DC=corp,DC=example,DC=test"));
        assert_eq!(out["a"][0].as_str(), Some("DC=corp,DC=example,DC=test"));
    }
}
