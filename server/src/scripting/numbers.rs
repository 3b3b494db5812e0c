//! Numbers as Redis's C code prints and casts them: `%.17g` (a Lua number
//! given to `redis.call`, a double reply), `%.14g` (cjson), and the C cast
//! of a Lua number to a 64-bit integer (a number a script returns).

/// `value` printed as C's `printf("%.{precision}g")`.
pub fn format_g(value: f64, precision: usize) -> String {
    if value.is_nan() {
        return if value.is_sign_negative() {
            "-nan"
        } else {
            "nan"
        }
        .into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.into();
    }
    let precision = precision.max(1);
    if value == 0.0 {
        return if value.is_sign_negative() { "-0" } else { "0" }.into();
    }
    // Rounded to `precision` significant digits, as `%e` would print it.
    let scientific = format!("{:.*e}", precision - 1, value);
    let (mantissa, exponent) = scientific
        .split_once('e')
        .unwrap_or((scientific.as_str(), "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if exponent < -4 || exponent >= precision as i32 {
        let mantissa = strip_zeros(mantissa);
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.unsigned_abs())
    } else {
        let decimals = (precision as i32 - 1 - exponent).max(0) as usize;
        strip_zeros(&format!("{value:.decimals$}")).to_string()
    }
}

/// Drops trailing zeros after a decimal point, and the point if nothing
/// is left after it (what `%g` does).
fn strip_zeros(text: &str) -> &str {
    if !text.contains('.') {
        return text;
    }
    text.trim_end_matches('0').trim_end_matches('.')
}

/// `(long long)value` as compiled for x86-64: truncation toward zero, and
/// the "integer indefinite" value (`i64::MIN`) for NaN and out-of-range
/// values.
pub fn c_cast_i64(value: f64) -> i64 {
    // 2^63 as a double: the first value out of range above.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if value.is_nan() || !(-LIMIT..LIMIT).contains(&value) {
        return i64::MIN;
    }
    value as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_as_printf_g() {
        assert_eq!(format_g(0.1, 17), "0.10000000000000001");
        assert_eq!(format_g(3.0, 17), "3");
        assert_eq!(format_g(1.5, 17), "1.5");
        assert_eq!(format_g(1e20, 17), "1e+20");
        assert_eq!(format_g(1e100, 17), "1e+100");
        assert_eq!(format_g(-0.0, 17), "-0");
        assert_eq!(format_g(0.0001, 17), "0.0001");
        assert_eq!(format_g(0.00001, 17), "1.0000000000000001e-05");
        assert_eq!(format_g(f64::INFINITY, 17), "inf");
        assert_eq!(format_g(-f64::NAN, 17), "-nan");
        assert_eq!(format_g(123456789012345.0, 14), "1.2345678901234e+14");
        assert_eq!(format_g(0.1, 14), "0.1");
        assert_eq!(format_g(100.0, 14), "100");
    }

    #[test]
    fn casts_as_c() {
        assert_eq!(c_cast_i64(3.99), 3);
        assert_eq!(c_cast_i64(-3.99), -3);
        assert_eq!(c_cast_i64(1e20), i64::MIN);
        assert_eq!(c_cast_i64(f64::NAN), i64::MIN);
        assert_eq!(c_cast_i64(9007199254740992.0), 9007199254740992);
    }
}
