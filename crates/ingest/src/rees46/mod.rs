//! The REES46 e-commerce behaviour CSV (`event_time,event_type,product_id,category_id,
//! category_code,brand,price,user_id,user_session`), read line by line.
//!
//! `columns.rs` holds the layout and the event-type mapping; `parser.rs` converts lines.
//! Prices are decimal USD; all `purchase` rows of a session form one order whose id is
//! the session id; an event's id hashes its line, so identical lines are one event.

mod columns;
mod parser;

#[cfg(test)]
mod tests;

pub(crate) use columns::HEADER;
pub(crate) use parser::Rees46Parser;
