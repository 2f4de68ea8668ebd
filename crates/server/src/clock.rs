//! Where the live engine's "now" comes from: the system clock in production, a scaled clock
//! for the time-compressed demo. `core` never reads a clock; the engine passes this one's
//! readings in.

use cartback_core::Timestamp;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        Timestamp(millis)
    }
}

/// Starts at `start` and runs `speed` times faster than real time.
pub struct ScaledClock {
    start: Timestamp,
    began: Instant,
    speed: f64,
}

impl ScaledClock {
    pub fn new(start: Timestamp, speed: f64) -> Self {
        ScaledClock {
            start,
            began: Instant::now(),
            speed,
        }
    }
}

impl Clock for ScaledClock {
    fn now(&self) -> Timestamp {
        let elapsed = self.began.elapsed().as_secs_f64() * self.speed * 1_000.0;
        Timestamp(self.start.0 + elapsed as i64)
    }
}
