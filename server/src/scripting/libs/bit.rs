//! `bit`: LuaBitOp 1.0.2 as Redis ships it (32-bit operations on Lua
//! numbers, results as signed 32-bit integers).

use mlua::{Lua, MultiValue, Table, Value};

use super::{check_number, function, Returned};

/// A named operation on one number.
type Unary = (&'static str, fn(i32) -> i32);
/// A named operation folding its arguments.
type Fold = (&'static str, fn(i32, i32) -> i32);
/// A named shift or rotation.
type Shift = (&'static str, fn(i32, u32) -> i32);

/// The `bit` table.
///
/// # Errors
/// Lua failed.
pub fn library(lua: &Lua) -> mlua::Result<Table> {
    let table = lua.create_table()?;
    let unary: [Unary; 3] = [
        ("tobit", |x| x),
        ("bnot", |x| !x),
        ("bswap", |x| x.swap_bytes()),
    ];
    for (name, op) in unary {
        table.raw_set(
            name,
            function(lua, move |_, args| {
                let args: Vec<Value> = args.into_iter().collect();
                Ok(vec![number(op(bit_arg(&args, 1, name)?))])
            })?,
        )?;
    }
    let folds: [Fold; 3] = [
        ("band", |a, b| a & b),
        ("bor", |a, b| a | b),
        ("bxor", |a, b| a ^ b),
    ];
    for (name, op) in folds {
        table.raw_set(
            name,
            function(lua, move |_, args| {
                let args: Vec<Value> = args.into_iter().collect();
                let mut acc = bit_arg(&args, 1, name)?;
                for position in 2..=args.len() {
                    acc = op(acc, bit_arg(&args, position, name)?);
                }
                Ok(vec![number(acc)])
            })?,
        )?;
    }
    let shifts: [Shift; 5] = [
        ("lshift", |x, n| ((x as u32) << n) as i32),
        ("rshift", |x, n| ((x as u32) >> n) as i32),
        ("arshift", |x, n| x >> n),
        ("rol", |x, n| (x as u32).rotate_left(n) as i32),
        ("ror", |x, n| (x as u32).rotate_right(n) as i32),
    ];
    for (name, op) in shifts {
        table.raw_set(
            name,
            function(lua, move |_, args| {
                let args: Vec<Value> = args.into_iter().collect();
                let x = bit_arg(&args, 1, name)?;
                let n = bit_arg(&args, 2, name)? as u32 & 31;
                Ok(vec![number(op(x, n))])
            })?,
        )?;
    }
    table.raw_set("tohex", function(lua, tohex)?)?;
    Ok(table)
}

fn tohex(lua: &Lua, args: MultiValue) -> Returned {
    let args: Vec<Value> = args.into_iter().collect();
    let x = bit_arg(&args, 1, "tohex")? as u32;
    let n = match args.get(1) {
        None | Some(Value::Nil) => 8,
        Some(_) => bit_arg(&args, 2, "tohex")?,
    };
    let upper = n < 0;
    let digits = n.unsigned_abs().min(8) as usize;
    let full = if upper {
        format!("{x:08X}")
    } else {
        format!("{x:08x}")
    };
    let text = &full[8 - digits..];
    Ok(vec![Value::String(
        lua.create_string(text).map_err(|e| e.to_string())?,
    )])
}

/// Argument `position` normalized to a 32-bit integer as LuaBitOp does
/// (rounded to the nearest integer, modulo 2^32).
fn bit_arg(args: &[Value], position: usize, name: &str) -> Result<i32, String> {
    let n = check_number(args, position, name)?;
    Ok(tobit(n))
}

/// LuaBitOp's `barg`: the low 32 bits of the number rounded to nearest
/// (the 2^52 + 2^51 addition trick, exact for |n| < 2^51).
fn tobit(n: f64) -> i32 {
    if !n.is_finite() {
        return 0;
    }
    let rounded = (n + 6_755_399_441_055_744.0) - 6_755_399_441_055_744.0;
    let wrapped = rounded.rem_euclid(4_294_967_296.0);
    wrapped as u32 as i32
}

fn number(x: i32) -> Value {
    Value::Integer(i64::from(x))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_as_luabitop() {
        assert_eq!(tobit(4294967295.0), -1);
        assert_eq!(tobit(4294967296.0), 0);
        assert_eq!(tobit(-1.0), -1);
        assert_eq!(tobit(2.5), 2);
        assert_eq!(tobit(3.5), 4);
        assert_eq!(tobit(2147483648.0), i32::MIN);
    }
}
