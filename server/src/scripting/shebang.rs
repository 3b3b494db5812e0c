//! The first line of an EVAL script that starts with `#!`: the engine
//! (`lua`) and `flags=...`, as Redis 7 reads them. A script without one
//! runs as before Redis 7 (it may write; memory is checked per command).

/// The flags a script or function declares.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScriptFlags {
    /// The script declared its flags (a shebang, or a function): the
    /// memory check happens before it runs, and `*_RO` needs `no-writes`.
    pub declared: bool,
    /// `no-writes`: it only reads.
    pub no_writes: bool,
    /// `allow-oom`: it runs even over `maxmemory`.
    pub allow_oom: bool,
    /// `allow-stale`: accepted (a node is never a stale replica).
    pub allow_stale: bool,
    /// `no-cluster`: refused on a cluster node.
    pub no_cluster: bool,
    /// `allow-cross-slot-keys`: it may touch keys of several slots.
    pub allow_cross_slot: bool,
}

impl ScriptFlags {
    /// Sets the flag called `name`; false if there is no such flag.
    pub fn set(&mut self, name: &[u8]) -> bool {
        let flag = match name {
            b"no-writes" => &mut self.no_writes,
            b"allow-oom" => &mut self.allow_oom,
            b"allow-stale" => &mut self.allow_stale,
            b"no-cluster" => &mut self.no_cluster,
            b"allow-cross-slot-keys" => &mut self.allow_cross_slot,
            _ => return false,
        };
        *flag = true;
        true
    }

    /// The flags' names, in Redis's order (FUNCTION LIST).
    pub fn names(&self) -> Vec<&'static str> {
        let all = [
            (self.no_writes, "no-writes"),
            (self.allow_oom, "allow-oom"),
            (self.allow_stale, "allow-stale"),
            (self.no_cluster, "no-cluster"),
            (self.allow_cross_slot, "allow-cross-slot-keys"),
        ];
        all.into_iter()
            .filter(|(on, _)| *on)
            .map(|(_, name)| name)
            .collect()
    }
}

/// The flags of an EVAL script's body.
///
/// # Errors
/// Redis's error for a malformed shebang.
pub fn parse(body: &[u8]) -> Result<ScriptFlags, String> {
    if !body.starts_with(b"#!") {
        return Ok(ScriptFlags::default());
    }
    let Some(end) = memchr::memchr(b'\n', body) else {
        return Err("ERR Invalid script shebang".into());
    };
    let line = &body[..end];
    let mut parts = line.split(|&b| b == b' ').filter(|p| !p.is_empty());
    let engine = parts.next().unwrap_or_default();
    if engine != b"#!lua" {
        return Err(format!(
            "ERR Unexpected engine in script shebang: {}",
            String::from_utf8_lossy(engine)
        ));
    }
    let mut flags = ScriptFlags {
        declared: true,
        ..ScriptFlags::default()
    };
    for part in parts {
        let Some(list) = part.strip_prefix(b"flags=") else {
            return Err(format!(
                "ERR Unknown lua shebang option: {}",
                String::from_utf8_lossy(part)
            ));
        };
        for name in list.split(|&b| b == b',').filter(|n| !n.is_empty()) {
            if !flags.set(name) {
                return Err(format!(
                    "ERR Unexpected flag in script shebang: {}",
                    String::from_utf8_lossy(name)
                ));
            }
        }
    }
    Ok(flags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_redis_shebangs() {
        assert_eq!(parse(b"return 1").unwrap(), ScriptFlags::default());
        let flags = parse(b"#!lua flags=no-writes,allow-oom\nreturn 1").unwrap();
        assert!(flags.declared && flags.no_writes && flags.allow_oom);
        assert!(parse(b"#!lua flags=\nreturn 1").unwrap().declared);
        assert_eq!(parse(b"#!lua").unwrap_err(), "ERR Invalid script shebang");
        assert_eq!(
            parse(b"#!\nreturn 1").unwrap_err(),
            "ERR Unexpected engine in script shebang: #!"
        );
        assert_eq!(
            parse(b"#!lua name=x\n").unwrap_err(),
            "ERR Unknown lua shebang option: name=x"
        );
        assert_eq!(
            parse(b"#!lua flags=bad\n").unwrap_err(),
            "ERR Unexpected flag in script shebang: bad"
        );
    }
}
