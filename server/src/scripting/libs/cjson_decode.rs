//! lua-cjson's decoder: its tokens, its acceptance of what `strtod` reads
//! (hex, leading zeros, inf and nan while `decode_invalid_numbers` is on)
//! and its error texts ("Expected value but found T_END at character 1").

use mlua::{Lua, Value};

use super::cjson::{null, Settings, STACK_DEPTH};

/// A token, with the byte offset where it starts.
#[derive(Debug, Clone)]
enum Token {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    String(Vec<u8>),
    Number(f64),
    Boolean(bool),
    Null,
    Colon,
    Comma,
    End,
    /// An invalid token, with lua-cjson's word for it.
    Error(&'static str),
}

impl Token {
    /// lua-cjson's name of the token in errors.
    fn name(&self) -> &'static str {
        match self {
            Token::ObjBegin => "T_OBJ_BEGIN",
            Token::ObjEnd => "T_OBJ_END",
            Token::ArrBegin => "T_ARR_BEGIN",
            Token::ArrEnd => "T_ARR_END",
            Token::String(_) => "T_STRING",
            Token::Number(_) => "T_NUMBER",
            Token::Boolean(_) => "T_BOOLEAN",
            Token::Null => "T_NULL",
            Token::Colon => "T_COLON",
            Token::Comma => "T_COMMA",
            Token::End => "T_END",
            Token::Error(what) => what,
        }
    }
}

struct Parser<'a> {
    text: &'a [u8],
    at: usize,
    depth: i64,
    settings: Settings,
}

/// Decodes `text` to a Lua value.
///
/// # Errors
/// lua-cjson's message.
pub fn decode(lua: &Lua, text: &[u8], settings: &Settings) -> Result<Value, String> {
    // lua-cjson reads a C string: it ends at the first NUL.
    let text = text.split(|&b| b == 0).next().unwrap_or_default();
    let mut parser = Parser {
        text,
        at: 0,
        depth: 0,
        settings: *settings,
    };
    let (token, at) = parser.next_token();
    let value = parser.value(lua, token, at)?;
    let (token, at) = parser.next_token();
    if !matches!(token, Token::End) {
        return Err(expected("the end", &token, at));
    }
    Ok(value)
}

fn expected(what: &str, token: &Token, at: usize) -> String {
    format!(
        "Expected {what} but found {} at character {}",
        token.name(),
        at + 1
    )
}

fn lua_error(e: mlua::Error) -> String {
    e.to_string()
}

impl Parser<'_> {
    fn next_token(&mut self) -> (Token, usize) {
        while self.at < self.text.len()
            && matches!(self.text[self.at], b' ' | b'\t' | b'\n' | b'\r')
        {
            self.at += 1;
        }
        let start = self.at;
        let Some(&ch) = self.text.get(self.at) else {
            return (Token::End, start);
        };
        let single = match ch {
            b'{' => Some(Token::ObjBegin),
            b'}' => Some(Token::ObjEnd),
            b'[' => Some(Token::ArrBegin),
            b']' => Some(Token::ArrEnd),
            b':' => Some(Token::Colon),
            b',' => Some(Token::Comma),
            _ => None,
        };
        if let Some(token) = single {
            self.at += 1;
            return (token, start);
        }
        if ch == b'"' {
            let token = self.string();
            // A bad string is reported where the decoder stopped in it.
            let at = if matches!(token, Token::Error(_)) {
                self.at
            } else {
                start
            };
            return (token, at);
        }
        let rest = &self.text[self.at..];
        if ch == b'-' || ch.is_ascii_digit() {
            if !self.settings.decode_invalid && is_invalid_number(rest) {
                return (Token::Error("invalid number"), start);
            }
            return (self.number(), start);
        }
        for (word, token) in [
            (&b"true"[..], Token::Boolean(true)),
            (b"false", Token::Boolean(false)),
            (b"null", Token::Null),
        ] {
            if rest.starts_with(word) {
                self.at += word.len();
                return (token, start);
            }
        }
        if self.settings.decode_invalid && is_invalid_number(rest) {
            return (self.number(), start);
        }
        (Token::Error("invalid token"), start)
    }

    /// What `strtod` reads at the current position.
    fn number(&mut self) -> Token {
        let rest = &self.text[self.at..];
        match strtod(rest) {
            Some((value, used)) => {
                self.at += used;
                Token::Number(value)
            }
            None => Token::Error("invalid number"),
        }
    }

    fn string(&mut self) -> Token {
        self.at += 1;
        let mut out = Vec::new();
        loop {
            let Some(&ch) = self.text.get(self.at) else {
                return Token::Error("unexpected end of string");
            };
            match ch {
                b'"' => {
                    self.at += 1;
                    return Token::String(out);
                }
                b'\\' => {
                    let Some(&escape) = self.text.get(self.at + 1) else {
                        return Token::Error("unexpected end of string");
                    };
                    let plain = match escape {
                        b'"' => Some(b'"'),
                        b'\\' => Some(b'\\'),
                        b'/' => Some(b'/'),
                        b'b' => Some(8),
                        b'f' => Some(12),
                        b'n' => Some(b'\n'),
                        b'r' => Some(b'\r'),
                        b't' => Some(b'\t'),
                        b'u' => None,
                        _ => return Token::Error("invalid escape code"),
                    };
                    match plain {
                        Some(b) => {
                            out.push(b);
                            self.at += 2;
                        }
                        None => match self.unicode_escape() {
                            Some(c) => {
                                let mut buf = [0u8; 4];
                                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                            }
                            None => return Token::Error("invalid unicode escape code"),
                        },
                    }
                }
                _ => {
                    out.push(ch);
                    self.at += 1;
                }
            }
        }
    }

    /// A `\u` escape with its four hex digits (and a following low
    /// surrogate) at the current position.
    fn unicode_escape(&mut self) -> Option<char> {
        let hex = |at: usize| -> Option<u32> {
            let digits = self.text.get(at..at + 4)?;
            u32::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
        };
        let first = hex(self.at + 2)?;
        if (0xDC00..0xE000).contains(&first) {
            return None;
        }
        if (0xD800..0xDC00).contains(&first) {
            if self.text.get(self.at + 6..self.at + 8) != Some(b"\\u") {
                return None;
            }
            let second = hex(self.at + 8)?;
            if !(0xDC00..0xE000).contains(&second) {
                return None;
            }
            self.at += 12;
            return char::from_u32(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00));
        }
        self.at += 6;
        char::from_u32(first)
    }

    fn descend(&mut self, at: usize) -> Result<(), String> {
        self.depth += 1;
        if self.depth > self.settings.decode_max_depth.min(STACK_DEPTH) {
            return Err(format!(
                "Found too many nested data structures ({}) at character {}",
                self.depth,
                at + 1
            ));
        }
        Ok(())
    }

    fn value(&mut self, lua: &Lua, token: Token, at: usize) -> Result<Value, String> {
        match token {
            Token::ObjBegin => self.object(lua, at),
            Token::ArrBegin => self.array(lua, at),
            Token::String(bytes) => Ok(Value::String(lua.create_string(bytes).map_err(lua_error)?)),
            Token::Number(n) => Ok(Value::Number(n)),
            Token::Boolean(b) => Ok(Value::Boolean(b)),
            Token::Null => Ok(null()),
            other => Err(expected("value", &other, at)),
        }
    }

    fn object(&mut self, lua: &Lua, at: usize) -> Result<Value, String> {
        self.descend(at)?;
        let table = lua.create_table().map_err(lua_error)?;
        let (mut token, mut at) = self.next_token();
        if matches!(token, Token::ObjEnd) {
            self.depth -= 1;
            return Ok(Value::Table(table));
        }
        loop {
            let Token::String(key) = token else {
                return Err(expected("object key string", &token, at));
            };
            let (colon, colon_at) = self.next_token();
            if !matches!(colon, Token::Colon) {
                return Err(expected("colon", &colon, colon_at));
            }
            let (next, next_at) = self.next_token();
            let value = self.value(lua, next, next_at)?;
            table
                .raw_set(lua.create_string(key).map_err(lua_error)?, value)
                .map_err(lua_error)?;
            let (after, after_at) = self.next_token();
            match after {
                Token::ObjEnd => break,
                Token::Comma => {}
                other => return Err(expected("comma or object end", &other, after_at)),
            }
            (token, at) = self.next_token();
        }
        self.depth -= 1;
        Ok(Value::Table(table))
    }

    fn array(&mut self, lua: &Lua, at: usize) -> Result<Value, String> {
        self.descend(at)?;
        let table = lua.create_table().map_err(lua_error)?;
        let (mut token, mut at) = self.next_token();
        if matches!(token, Token::ArrEnd) {
            self.depth -= 1;
            return Ok(Value::Table(table));
        }
        let mut index = 1;
        loop {
            let value = self.value(lua, token, at)?;
            table.raw_set(index, value).map_err(lua_error)?;
            index += 1;
            let (after, after_at) = self.next_token();
            match after {
                Token::ArrEnd => break,
                Token::Comma => {}
                other => return Err(expected("comma or array end", &other, after_at)),
            }
            (token, at) = self.next_token();
        }
        self.depth -= 1;
        Ok(Value::Table(table))
    }
}

/// lua-cjson's test for numbers JSON does not allow (hex, leading zeros,
/// inf, nan).
fn is_invalid_number(rest: &[u8]) -> bool {
    match rest.first() {
        Some(b'0') => matches!(rest.get(1), Some(b'x' | b'X' | b'0'..=b'9')),
        Some(&c) if c <= b'9' => false,
        _ => {
            let lower = |n: usize| rest.get(..n).map(<[u8]>::to_ascii_lowercase);
            lower(3).is_some_and(|w| w == b"inf" || w == b"nan")
        }
    }
}

/// What C's `strtod` reads at the start of `text`: the value and the bytes
/// used (decimal with exponent, hex, inf/infinity, nan).
fn strtod(text: &[u8]) -> Option<(f64, usize)> {
    let mut at = 0;
    let negative = match text.first() {
        Some(b'-') => {
            at += 1;
            true
        }
        Some(b'+') => {
            at += 1;
            false
        }
        _ => false,
    };
    let sign = if negative { -1.0 } else { 1.0 };
    let rest = &text[at..];
    let lower: Vec<u8> = rest.iter().take(8).map(u8::to_ascii_lowercase).collect();
    if lower.starts_with(b"infinity") {
        return Some((sign * f64::INFINITY, at + 8));
    }
    if lower.starts_with(b"inf") {
        return Some((sign * f64::INFINITY, at + 3));
    }
    if lower.starts_with(b"nan") {
        return Some((f64::NAN, at + 3));
    }
    if lower.starts_with(b"0x") {
        let digits = rest[2..]
            .iter()
            .take_while(|b| b.is_ascii_hexdigit())
            .count();
        if digits == 0 {
            return Some((0.0, at + 1));
        }
        let mut value = 0f64;
        for &d in &rest[2..2 + digits] {
            value = value * 16.0 + f64::from((d as char).to_digit(16).unwrap_or(0));
        }
        return Some((sign * value, at + 2 + digits));
    }
    let start = at;
    let digits = |from: usize| {
        text[from..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    };
    let int = digits(at);
    at += int;
    let mut frac = 0;
    if text.get(at) == Some(&b'.') {
        frac = digits(at + 1);
        if int + frac > 0 {
            at += 1 + frac;
        }
    }
    if int + frac == 0 {
        return None;
    }
    if matches!(text.get(at), Some(b'e' | b'E')) {
        let mut e = at + 1;
        if matches!(text.get(e), Some(b'+' | b'-')) {
            e += 1;
        }
        let exp_digits = digits(e);
        if exp_digits > 0 {
            at = e + exp_digits;
        }
    }
    let body = std::str::from_utf8(&text[start..at]).ok()?;
    let value: f64 = body.trim_end_matches('.').parse().ok()?;
    Some((sign * value, at))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(text: &str) -> String {
        let lua = Lua::new();
        decode(&lua, text.as_bytes(), &Settings::default()).unwrap_err()
    }

    #[test]
    fn errors_as_lua_cjson() {
        assert_eq!(
            error_of(""),
            "Expected value but found T_END at character 1"
        );
        assert_eq!(
            error_of("x"),
            "Expected value but found invalid token at character 1"
        );
        assert_eq!(
            error_of("{"),
            "Expected object key string but found T_END at character 2"
        );
        assert_eq!(
            error_of("{\"a\" 1}"),
            "Expected colon but found T_NUMBER at character 6"
        );
        assert_eq!(
            error_of("[1 2]"),
            "Expected comma or array end but found T_NUMBER at character 4"
        );
        assert_eq!(
            error_of("[1,2] x"),
            "Expected the end but found invalid token at character 7"
        );
        assert_eq!(
            error_of("\"a\\qb\""),
            "Expected value but found invalid escape code at character 3"
        );
        assert_eq!(
            error_of("\"ab"),
            "Expected value but found unexpected end of string at character 4"
        );
        assert_eq!(
            error_of("-"),
            "Expected value but found invalid number at character 1"
        );
    }

    #[test]
    fn numbers_as_strtod() {
        assert_eq!(strtod(b"0x10"), Some((16.0, 4)));
        assert_eq!(strtod(b"01"), Some((1.0, 2)));
        assert_eq!(strtod(b"1.5e3,"), Some((1500.0, 5)));
        assert_eq!(strtod(b"-"), None);
    }
}
