//! The ACL file (`aclfile`) and `user` lines of the config file: one
//! `user <name> <rules...>` per line, read all or nothing, written back
//! as ACL LIST describes the users.

use super::user::User;

/// Reads users from `text` (`source` names it in errors), created under
/// `acl-pubsub-default` (`all_channels`: `allchannels`).
///
/// # Errors
/// The first bad line, with its number, as Redis reports it.
pub fn parse_file(source: &str, text: &str, all_channels: bool) -> Result<Vec<User>, String> {
    let mut users: Vec<User> = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = || format!("{source}:{}", number + 1);
        let mut words = line.split_whitespace();
        if words.next() != Some("user") {
            return Err(format!("{}: line should start with user keyword", at()));
        }
        let Some(name) = words.next() else {
            return Err(format!(
                "{}: spaces are not allowed in user names or rules",
                at()
            ));
        };
        if users.iter().any(|u| u.name == name) {
            return Err(format!("{}: Duplicate user '{name}' found", at()));
        }
        let mut user = User::created(name, all_channels);
        user.apply_all(words.map(str::as_bytes))
            .map_err(|(rule, why)| {
                format!(
                    "{}: Error in applying operation '{rule}': {}",
                    at(),
                    why.message()
                )
            })?;
        users.push(user);
    }
    Ok(users)
}

/// The users as the ACL file holds them.
pub fn render_file<'a>(users: impl IntoIterator<Item = &'a User>) -> String {
    let mut out = String::new();
    for user in users {
        out.push_str(&user.describe());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_round_trips() {
        let text = "# users\nuser default on nopass ~* &* +@all\nuser alice on >pw ~app:* resetchannels &app:* -@all +@read +set (%R~x* +get)\n";
        let users = parse_file("f", text, false).unwrap();
        assert_eq!(users.len(), 2);
        assert!(users[1].password_ok(b"pw"));
        let written = render_file(&users);
        let again = parse_file("f", &written, false).unwrap();
        assert_eq!(render_file(&again), written);
        assert!(written.contains("user alice on #"), "{written}");
        assert!(
            written.contains("(%R~x* resetchannels -@all +get)"),
            "{written}"
        );
        let bad = parse_file("f", "user a on\nuser b foo\n", false).unwrap_err();
        assert_eq!(bad, "f:2: Error in applying operation 'foo': Syntax error");
        assert!(parse_file("f", "bob on\n", false)
            .unwrap_err()
            .contains("f:1: line should start"));
        assert!(parse_file("f", "user a\nuser a\n", false)
            .unwrap_err()
            .contains("Duplicate"));
    }
}
