//! The fast path of the NDJSON parser: one pass over the line's bytes straight into an
//! [`Event`], for the lines an import is made of — a plain JSON object with the schema's
//! fields, strings without escapes, whole non-negative numbers, and valid values.
//!
//! It is an optimisation, never a second definition of the format: it answers `None` for
//! anything else (an escape sequence, a float, an unknown or repeated key, a value that fails
//! validation, malformed JSON, …) and the line then goes through the reference parser
//! (`parser.rs`, serde with field paths), which accepts or rejects it with the exact message.
//! So a line the fast path accepts gives the very event the reference parser gives, and every
//! rejection comes from the reference parser; `tests.rs` checks both on mutated lines.
//!
//! Strings are borrowed from the line and copied once, into the event; the `id` (32 hex digits
//! as a rule) and `currency` never become `String`s. A string read here never holds a NUL
//! (control characters and escapes send the line to the reference parser), so text checks
//! come down to length and shape.

use super::parser::NAMESPACE;
use crate::identity::{assign_content_id, source_id};
use crate::limits::{MAX_STRING_BYTES, ParseOptions};
use crate::timestamp::parse_rfc3339;
use crate::validate;
use cartback_core::{CouponOutcome, Currency, Event, EventId, EventKind, Item, Timestamp};
use std::cell::Cell;

/// Parses one line, or `None` when the reference parser must decide.
pub(super) fn parse(text: &str, options: &ParseOptions) -> Option<Event> {
    let mut cursor = Cursor { text, pos: 0 };
    let fields = cursor.event()?;
    cursor.skip_ws();
    if cursor.pos != text.len() {
        return None;
    }
    build(fields, options)
}

/// The raw fields of a line, borrowed from it.
#[derive(Default)]
struct Fields<'a> {
    id: Option<&'a str>,
    kind: Option<EventKind>,
    timestamp: Option<Timestamp>,
    user_id: Option<&'a str>,
    anonymous_id: Option<&'a str>,
    session_id: Option<&'a str>,
    cart_id: Option<&'a str>,
    order_id: Option<&'a str>,
    items: Vec<Item>,
    currency: Option<&'a str>,
    total: Option<i64>,
    email: Option<&'a str>,
    timezone: Option<&'a str>,
    channel: Option<&'a str>,
    device: Option<&'a str>,
    message_id: Option<&'a str>,
    coupon_code: Option<&'a str>,
    coupon_outcome: Option<CouponOutcome>,
    referrer: Option<&'a str>,
}

/// A position in the line. Every method answers `None` where the reference parser would
/// fail, or where the fast path does not handle the input (it then defers).
struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    /// Skips JSON whitespace (space, tab, line feed, carriage return).
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// Consumes `byte` after optional whitespace.
    fn expect(&mut self, byte: u8) -> Option<()> {
        self.skip_ws();
        (self.peek()? == byte).then(|| self.pos += 1)
    }

    /// A string without escapes or control characters, borrowed from the line.
    fn string(&mut self) -> Option<&'a str> {
        self.skip_ws();
        if self.peek()? != b'"' {
            return None;
        }
        let start = self.pos + 1;
        let bytes = self.text.as_bytes();
        let end = start + special_byte(bytes.get(start..)?)?;
        // Escapes go to the reference parser; raw control characters are invalid.
        if bytes[end] != b'"' {
            return None;
        }
        self.pos = end + 1;
        // `start` and `end` sit next to ASCII quotes: both are character boundaries.
        self.text.get(start..end)
    }

    /// `null` (as `None`) or a string.
    fn optional_string(&mut self) -> Option<Option<&'a str>> {
        self.skip_ws();
        if self.peek()? == b'n' {
            self.null()?;
            return Some(None);
        }
        self.string().map(Some)
    }

    fn null(&mut self) -> Option<()> {
        let rest = self.text.as_bytes().get(self.pos..)?;
        rest.starts_with(b"null").then(|| self.pos += 4)
    }

    /// A whole number `0` or `[1-9][0-9]*` up to `i64::MAX`, not followed by a fraction or an
    /// exponent. Negative numbers defer: the reference parser explains why they are refused.
    fn integer(&mut self) -> Option<i64> {
        self.skip_ws();
        let bytes = self.text.as_bytes();
        let start = self.pos;
        let mut value: i64 = 0;
        let mut end = start;
        while let Some(&digit @ b'0'..=b'9') = bytes.get(end) {
            value = value
                .checked_mul(10)?
                .checked_add(i64::from(digit - b'0'))?;
            end += 1;
        }
        let digits = end - start;
        if digits == 0 || (digits > 1 && bytes[start] == b'0') {
            return None;
        }
        if matches!(bytes.get(end), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        self.pos = end;
        Some(value)
    }

    /// `null` (as `None`) or a whole number.
    fn optional_integer(&mut self) -> Option<Option<i64>> {
        self.skip_ws();
        if self.peek()? == b'n' {
            self.null()?;
            return Some(None);
        }
        self.integer().map(Some)
    }

    /// Calls `field` for every key of an object (the cursor then sits before its value), and
    /// refuses a key seen twice (`seen` has bit `index` set for each key already read).
    fn object(
        &mut self,
        mut field: impl FnMut(&mut Self, &'a str, &mut u32) -> Option<()>,
    ) -> Option<()> {
        self.expect(b'{')?;
        self.skip_ws();
        if self.peek()? == b'}' {
            self.pos += 1;
            return Some(());
        }
        let mut seen = 0u32;
        loop {
            let key = self.string()?;
            self.expect(b':')?;
            field(self, key, &mut seen)?;
            self.skip_ws();
            match self.peek()? {
                b',' => self.pos += 1,
                b'}' => {
                    self.pos += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    fn event(&mut self) -> Option<Fields<'a>> {
        let mut f = Fields::default();
        self.object(|c, key, seen| {
            let index = event_key(key)?;
            once(seen, index)?;
            match index {
                0 => f.id = c.optional_string()?,
                1 => f.kind = Some(kind(c.string()?)?),
                2 => f.timestamp = Some(c.timestamp()?),
                3 => f.user_id = c.optional_string()?,
                4 => f.anonymous_id = c.optional_string()?,
                5 => f.session_id = c.optional_string()?,
                6 => f.cart_id = c.optional_string()?,
                7 => f.order_id = c.optional_string()?,
                8 => f.items = c.items()?,
                9 => f.currency = c.optional_string()?,
                10 => f.total = c.optional_integer()?,
                11 => f.email = c.optional_string()?,
                12 => f.timezone = c.optional_string()?,
                13 => f.channel = c.optional_string()?,
                14 => f.device = c.optional_string()?,
                15 => f.message_id = c.optional_string()?,
                16 => f.coupon_code = c.optional_string()?,
                17 => {
                    f.coupon_outcome = match c.optional_string()? {
                        None => None,
                        Some(name) => Some(coupon_outcome(name)?),
                    }
                }
                _ => f.referrer = c.optional_string()?,
            }
            Some(())
        })?;
        Some(f)
    }

    /// RFC 3339 text or whole epoch milliseconds.
    fn timestamp(&mut self) -> Option<Timestamp> {
        self.skip_ws();
        if self.peek()? == b'"' {
            parse_rfc3339(self.string()?).ok()
        } else {
            self.integer().map(Timestamp)
        }
    }

    /// The items array, each item validated (`null` defers: the reference parser refuses it).
    fn items(&mut self) -> Option<Vec<Item>> {
        self.expect(b'[')?;
        let mut items = Vec::with_capacity(1);
        self.skip_ws();
        if self.peek()? == b']' {
            self.pos += 1;
            return Some(items);
        }
        loop {
            items.push(self.item()?);
            self.skip_ws();
            match self.peek()? {
                b',' => self.pos += 1,
                b']' => {
                    self.pos += 1;
                    return Some(items);
                }
                _ => return None,
            }
        }
    }

    fn item(&mut self) -> Option<Item> {
        let (mut id, mut name, mut category, mut brand) = (None, None, None, None);
        let (mut price, mut quantity) = (None, None);
        self.object(|c, key, seen| {
            let index = item_key(key)?;
            once(seen, index)?;
            match index {
                0 => id = Some(c.string()?),
                1 => name = c.optional_string()?,
                2 => category = c.optional_string()?,
                3 => brand = c.optional_string()?,
                4 => price = c.optional_integer()?,
                _ => quantity = c.optional_integer()?,
            }
            Some(())
        })?;
        let id = id.filter(|id| valid_id(id))?;
        Some(Item {
            id: id.to_string(),
            name: text(name)?,
            category: text(category)?,
            brand: text(brand)?,
            price: price.map(validate::amount).transpose().ok()?,
            quantity: match quantity {
                None => 1,
                Some(units) => validate::quantity(units).ok()?,
            },
        })
    }
}

/// The index of an event key in [`Cursor::event`].
fn event_key(key: &str) -> Option<usize> {
    Some(match key.as_bytes() {
        b"id" => 0,
        b"type" => 1,
        b"timestamp" => 2,
        b"user_id" => 3,
        b"anonymous_id" => 4,
        b"session_id" => 5,
        b"cart_id" => 6,
        b"order_id" => 7,
        b"items" => 8,
        b"currency" => 9,
        b"total" => 10,
        b"email" => 11,
        b"timezone" => 12,
        b"channel" => 13,
        b"device" => 14,
        b"message_id" => 15,
        b"coupon_code" => 16,
        b"coupon_outcome" => 17,
        b"referrer" => 18,
        _ => return None,
    })
}

/// The index of an item key in [`Cursor::item`].
fn item_key(key: &str) -> Option<usize> {
    Some(match key.as_bytes() {
        b"id" => 0,
        b"name" => 1,
        b"category" => 2,
        b"brand" => 3,
        b"price" => 4,
        b"quantity" => 5,
        _ => return None,
    })
}

/// Offset of the first `"`, `\\` or control character (below 0x20) in `bytes`, eight bytes at
/// a time (the bit trick serde_json uses for the same search).
fn special_byte(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::MAX / 255;
    const HIGH: u64 = ONES << 7;
    let has_zero = |word: u64| word.wrapping_sub(ONES) & !word & HIGH;
    let mut chunks = bytes.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        let control = word.wrapping_sub(ONES * 0x20) & !word & HIGH;
        let found = control
            | has_zero(word ^ (ONES * u64::from(b'"')))
            | has_zero(word ^ (ONES * u64::from(b'\\')));
        if found != 0 {
            return Some(offset + found.trailing_zeros() as usize / 8);
        }
        offset += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .map(|i| offset + i)
}

/// Marks key `index` as seen; `None` when it was seen before.
fn once(seen: &mut u32, index: usize) -> Option<()> {
    let bit = 1u32 << index;
    if *seen & bit != 0 {
        return None;
    }
    *seen |= bit;
    Some(())
}

/// An event type by its exact schema name.
fn kind(name: &str) -> Option<EventKind> {
    EventKind::ALL.into_iter().find(|k| k.as_str() == name)
}

/// A coupon outcome by its exact schema name.
fn coupon_outcome(name: &str) -> Option<CouponOutcome> {
    CouponOutcome::ALL.into_iter().find(|o| o.as_str() == name)
}

/// `validate::check_text` for a string without NUL characters.
fn valid_text(value: &str) -> bool {
    value.len() <= MAX_STRING_BYTES
}

/// `validate::check_id` for a string without NUL characters.
fn valid_id(value: &str) -> bool {
    valid_text(value) && !validate::is_blank(value)
}

/// `validate::check_email` for a string without NUL characters.
fn valid_email(value: &str) -> bool {
    valid_text(value) && validate::is_email_shaped(value)
}

/// `validate::check_timezone` (which refuses NUL itself).
fn valid_timezone(value: &str) -> bool {
    validate::check_timezone(value).is_ok()
}

/// `validate::referrer` for a string without NUL characters: blank is absent.
fn referrer(value: Option<&str>) -> Option<Option<String>> {
    match value {
        Some(v) if validate::is_blank(v) => Some(None),
        other => checked(other, valid_text),
    }
}

/// Optional bounded text, copied once it is known to be valid.
fn text(value: Option<&str>) -> Option<Option<String>> {
    checked(value, valid_text)
}

/// An optional value accepted by `valid`, copied once it is known to be valid.
fn checked(value: Option<&str>, valid: fn(&str) -> bool) -> Option<Option<String>> {
    match value {
        None => Some(None),
        Some(v) => valid(v).then(|| Some(v.to_string())),
    }
}

thread_local! {
    /// The last currency code read and what it means: files rarely mix currencies, and
    /// looking a code up among all of ISO 4217 costs more than the rest of the line.
    static LAST_CURRENCY: Cell<Option<([u8; 3], Currency)>> = const { Cell::new(None) };
}

/// `Currency::parse(code)`, remembering the last three-byte code.
fn currency(code: &str) -> Option<Currency> {
    let key: Option<[u8; 3]> = code.as_bytes().try_into().ok();
    if let (Some(key), Some((last, currency))) = (key, LAST_CURRENCY.get())
        && key == last
    {
        return Some(currency);
    }
    let parsed = Currency::parse(code).ok()?;
    if let Some(key) = key {
        LAST_CURRENCY.set(Some((key, parsed)));
    }
    Some(parsed)
}

/// Validates the fields and assembles the event exactly as `parser::convert` does.
fn build(f: Fields<'_>, options: &ParseOptions) -> Option<Event> {
    let anonymous_id = checked(f.anonymous_id, valid_id)?;
    let user_id = match (f.user_id, &anonymous_id) {
        (Some(user), _) => checked(Some(user), valid_id)??,
        (None, Some(anonymous)) => anonymous.clone(),
        (None, None) => return None,
    };
    let currency = match f.currency {
        Some(code) => Some(currency(code)?),
        None => None,
    };
    let kind = f.kind?;
    let mut event = Event {
        id: EventId([0; 16]),
        kind,
        timestamp: f.timestamp?,
        user_id,
        anonymous_id,
        session_id: checked(f.session_id, valid_id)?,
        cart_id: checked(f.cart_id, valid_id)?,
        order_id: checked(f.order_id, valid_id)?,
        items: f.items,
        currency,
        total: f.total.map(validate::amount).transpose().ok()?,
        email: checked(f.email, valid_email)?,
        timezone: checked(f.timezone, valid_timezone)?,
        channel: checked(f.channel, valid_text)?,
        device: checked(f.device, valid_text)?,
        message_id: checked(f.message_id, valid_id)?,
        coupon_code: checked(f.coupon_code, valid_id)?,
        coupon_outcome: validate::coupon_outcome(kind, f.coupon_outcome),
        referrer: referrer(f.referrer)?,
    };
    validate::check_event(&event, options, "items").ok()?;
    match f.id {
        Some(given) => {
            if !valid_id(given) {
                return None;
            }
            event.id = source_id(NAMESPACE, given);
        }
        None => assign_content_id(&mut event, NAMESPACE),
    }
    Some(event)
}
