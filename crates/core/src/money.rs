//! Money as integer minor units plus an ISO 4217 currency code — never a float.
//!
//! Owns currency validation (the code must be a real ISO 4217 code), the number of minor
//! units per currency (2 for USD, 0 for JPY, 3 for KWD, …) and the exact conversion of
//! decimal text such as `"1081.98"` into minor units.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// Largest accepted amount, in minor units (10¹⁴: a trillion dollars in cents). Anything
/// larger in a cart event is a unit mix-up, not a purchase.
pub const MAX_MINOR_UNITS: i64 = 100_000_000_000_000;

/// Why an amount or currency was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("`{0}` is not an ISO 4217 currency code")]
    UnknownCurrency(String),
    #[error("`{0}` is not a decimal amount")]
    NotADecimal(String),
    #[error("{value} has more decimal places than {currency} allows ({allowed})")]
    TooPrecise {
        value: String,
        currency: Currency,
        allowed: u32,
    },
    #[error("amount {0} is negative")]
    Negative(String),
    #[error("amount {0} is larger than any real price")]
    TooLarge(String),
}

/// A validated ISO 4217 currency code.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency(iso_currency::Currency);

impl Currency {
    pub const USD: Currency = Currency(iso_currency::Currency::USD);
    pub const EUR: Currency = Currency(iso_currency::Currency::EUR);

    /// Parses a three-letter code, case-insensitively.
    pub fn parse(code: &str) -> Result<Self, MoneyError> {
        let upper = code.trim().to_ascii_uppercase();
        iso_currency::Currency::from_code(&upper)
            .map(Currency)
            .ok_or_else(|| MoneyError::UnknownCurrency(code.to_string()))
    }

    pub fn code(self) -> &'static str {
        self.0.code()
    }

    /// Number of decimal places of the minor unit (2 for USD, 0 for JPY, 3 for KWD).
    pub fn exponent(self) -> u32 {
        self.0.exponent().map(u32::from).unwrap_or(0)
    }

    /// Converts decimal text in major units (`"19.99"`) into minor units (1999), exactly.
    /// Extra trailing zeros are fine (`"19.990"`); real extra precision is refused.
    pub fn parse_major(self, text: &str) -> Result<i64, MoneyError> {
        let t = text.trim();
        let (negative, digits) = match t.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, t.strip_prefix('+').unwrap_or(t)),
        };
        let (whole, frac) = match digits.split_once('.') {
            Some((w, f)) => (w, f),
            None => (digits, ""),
        };
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if (whole.is_empty() && frac.is_empty()) || !all_digits(whole) || !all_digits(frac) {
            return Err(MoneyError::NotADecimal(text.to_string()));
        }
        let exp = self.exponent();
        let significant = frac.trim_end_matches('0');
        if significant.len() > exp as usize {
            return Err(MoneyError::TooPrecise {
                value: text.to_string(),
                currency: self,
                allowed: exp,
            });
        }
        if negative && (whole.bytes().any(|b| b != b'0') || !significant.is_empty()) {
            return Err(MoneyError::Negative(text.to_string()));
        }
        let too_large = || MoneyError::TooLarge(text.to_string());
        let whole = whole.trim_start_matches('0');
        if whole.len() > 18 {
            return Err(too_large());
        }
        let whole: i64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| too_large())?
        };
        let mut frac_units: i64 = 0;
        for i in 0..exp as usize {
            let d = significant
                .as_bytes()
                .get(i)
                .map_or(0, |b| i64::from(b - b'0'));
            frac_units = frac_units * 10 + d;
        }
        let minor = whole
            .checked_mul(10_i64.pow(exp))
            .and_then(|w| w.checked_add(frac_units))
            .ok_or_else(too_large)?;
        if minor > MAX_MINOR_UNITS {
            return Err(too_large());
        }
        Ok(minor)
    }

    /// Converts a JSON number in major units into minor units exactly, using the
    /// shortest decimal text that round-trips the float (so `19.99` stays `19.99`).
    pub fn from_major_f64(self, value: f64) -> Result<i64, MoneyError> {
        if !value.is_finite() {
            return Err(MoneyError::NotADecimal(value.to_string()));
        }
        // `{}` on f64 prints the shortest round-trip representation, never exponent form.
        self.parse_major(&format!("{value}"))
    }

    /// Formats minor units as decimal text in major units (`1999` → `"19.99"`).
    pub fn format_minor(self, minor: i64) -> String {
        let exp = self.exponent();
        if exp == 0 {
            return minor.to_string();
        }
        let scale = 10_i64.pow(exp);
        let sign = if minor < 0 { "-" } else { "" };
        let abs = minor.unsigned_abs();
        format!(
            "{sign}{}.{:0width$}",
            abs / scale as u64,
            abs % scale as u64,
            width = exp as usize
        )
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, MoneyError> {
        Currency::parse(s)
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Currency::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// An amount of money: integer minor units of one currency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    pub minor: i64,
    pub currency: Currency,
}

impl Money {
    pub fn new(minor: i64, currency: Currency) -> Self {
        Money { minor, currency }
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}",
            self.currency.format_minor(self.minor),
            self.currency
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_decimal_text_exactly() {
        let usd = Currency::parse("usd").unwrap();
        assert_eq!(usd.parse_major("1081.98"), Ok(108_198));
        assert_eq!(usd.parse_major("0.1"), Ok(10));
        assert_eq!(usd.parse_major("5"), Ok(500));
        assert_eq!(usd.parse_major("5."), Ok(500));
        assert_eq!(usd.parse_major(".5"), Ok(50));
        assert_eq!(usd.parse_major("19.990"), Ok(1_999));
        assert_eq!(usd.parse_major("-0.00"), Ok(0));
        assert!(matches!(
            usd.parse_major("19.999"),
            Err(MoneyError::TooPrecise { allowed: 2, .. })
        ));
        assert!(matches!(
            usd.parse_major("-1.00"),
            Err(MoneyError::Negative(_))
        ));
        assert!(matches!(
            usd.parse_major("1e3"),
            Err(MoneyError::NotADecimal(_))
        ));
        assert!(matches!(
            usd.parse_major(""),
            Err(MoneyError::NotADecimal(_))
        ));
        assert!(matches!(
            usd.parse_major("."),
            Err(MoneyError::NotADecimal(_))
        ));
        assert!(matches!(
            usd.parse_major("99999999999999999999999"),
            Err(MoneyError::TooLarge(_))
        ));
        assert!(matches!(
            usd.parse_major("2000000000000"),
            Err(MoneyError::TooLarge(_))
        ));
    }

    #[test]
    fn respects_each_currency_exponent() {
        let jpy = Currency::parse("JPY").unwrap();
        let kwd = Currency::parse("KWD").unwrap();
        assert_eq!(jpy.exponent(), 0);
        assert_eq!(kwd.exponent(), 3);
        assert_eq!(jpy.parse_major("1500"), Ok(1_500));
        assert!(jpy.parse_major("1500.5").is_err());
        assert_eq!(kwd.parse_major("1.234"), Ok(1_234));
        assert_eq!(kwd.format_minor(1_234), "1.234");
        assert_eq!(jpy.format_minor(1_500), "1500");
        assert_eq!(Currency::USD.format_minor(-5), "-0.05");
    }

    #[test]
    fn floats_convert_through_their_shortest_text() {
        let usd = Currency::USD;
        assert_eq!(usd.from_major_f64(19.99), Ok(1_999));
        assert_eq!(
            usd.from_major_f64(0.1 + 0.2),
            Err(MoneyError::TooPrecise {
                value: "0.30000000000000004".into(),
                currency: usd,
                allowed: 2
            })
        );
        assert!(usd.from_major_f64(f64::NAN).is_err());
        assert!(usd.from_major_f64(1e300).is_err());
    }

    #[test]
    fn rejects_unknown_codes() {
        assert!(Currency::parse("XYZ").is_err());
        assert!(Currency::parse("US").is_err());
        let c: Currency = serde_json::from_str("\"eur\"").unwrap();
        assert_eq!(c, Currency::EUR);
        assert_eq!(serde_json::to_string(&c).unwrap(), "\"EUR\"");
    }
}
