//! Hybrid logical clock. Stamps are written `<unix ms, 15 digits>-<counter, 4 digits>-<node>`
//! so that plain string order is clock order (wire protocol v1).

use crate::json::{JsonText, ToJson};
use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

const MAX_COUNTER: u16 = 9999;

/// How far ahead of our wall clock a remote stamp may pull us. A device whose clock runs
/// hours fast must not drag every replica (and every later write) into its future.
pub const MAX_FORWARD_DRIFT_MS: u64 = 60_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HlcStamp {
    pub wall_ms: u64,
    pub counter: u16,
    pub node: String,
}

impl Ord for HlcStamp {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.wall_ms, self.counter, &self.node).cmp(&(other.wall_ms, other.counter, &other.node))
    }
}

impl PartialOrd for HlcStamp {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for HlcStamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:015}-{:04}-{}", self.wall_ms, self.counter, self.node)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed HLC stamp \"{0}\"")]
pub struct ParseHlcError(String);

impl FromStr for HlcStamp {
    type Err = ParseHlcError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // `WWWWWWWWWWWWWWW-CCCC-node`: the separators' places are fixed, so the parts are
        // read by position (no `splitn`: std's splitter was linked for this alone), and
        // the digits summed as they are checked.
        let bytes = s.as_bytes();
        let number = |digits: &[u8]| {
            let mut n: u64 = 0;
            for &b in digits {
                if !b.is_ascii_digit() {
                    return None;
                }
                n = n * 10 + u64::from(b - b'0');
            }
            Some(n)
        };
        let parsed = match (bytes.get(15), bytes.get(20), s.get(21..)) {
            (Some(b'-'), Some(b'-'), Some(node)) if !node.is_empty() => number(&bytes[..15])
                .zip(number(&bytes[16..20]))
                .map(|(wall_ms, counter)| HlcStamp { wall_ms, counter: counter as u16, node: node.to_owned() }),
            _ => None,
        };
        parsed.ok_or_else(|| ParseHlcError(s.to_owned()))
    }
}

impl TryFrom<String> for HlcStamp {
    type Error = ParseHlcError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<HlcStamp> for String {
    fn from(stamp: HlcStamp) -> String {
        stamp.to_string()
    }
}

/// The last stamp issued by one node. Persisted so stamps keep increasing across restarts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HlcState {
    pub wall_ms: u64,
    pub counter: u16,
}

impl HlcState {
    /// A stamp for a local event at wall time `now_ms`; strictly greater than every stamp
    /// this state issued or observed before.
    pub fn tick(&mut self, now_ms: u64, node: &str) -> HlcStamp {
        if now_ms > self.wall_ms {
            self.wall_ms = now_ms;
            self.counter = 0;
        } else {
            self.bump();
        }
        self.stamp(node)
    }

    /// Merge a stamp received from another node, so our next stamp orders after it.
    /// Remote wall time is capped at `now_ms + MAX_FORWARD_DRIFT_MS`.
    pub fn observe(&mut self, remote: &HlcStamp, now_ms: u64) {
        let cap = now_ms.saturating_add(MAX_FORWARD_DRIFT_MS);
        let (remote_wall, remote_counter) =
            if remote.wall_ms > cap { (cap, 0) } else { (remote.wall_ms, remote.counter) };
        if (remote_wall, remote_counter) > (self.wall_ms, self.counter) {
            self.wall_ms = remote_wall;
            self.counter = remote_counter;
        }
    }

    /// Forget a future this clock was dragged into by a wrong wall clock: stamps may again
    /// follow real time once we know it (`now_ms`, corrected).
    pub fn pull_back(&mut self, now_ms: u64) {
        let limit = now_ms.saturating_add(MAX_FORWARD_DRIFT_MS);
        if self.wall_ms > limit {
            self.wall_ms = limit;
            self.counter = 0;
        }
    }

    fn bump(&mut self) {
        if self.counter >= MAX_COUNTER {
            // Counter space is exhausted for this millisecond: borrow the next one.
            self.wall_ms += 1;
            self.counter = 0;
        } else {
            self.counter += 1;
        }
    }

    fn stamp(&self, node: &str) -> HlcStamp {
        HlcStamp { wall_ms: self.wall_ms, counter: self.counter, node: node.to_owned() }
    }
}

/// A stamp from the future is pulled back to `now_ms + MAX_FORWARD_DRIFT_MS` (the
/// server does this to every stamp it stores, so a device whose clock runs hours ahead
/// cannot win every later `lastWriteWins` comparison). Unparseable stamps are left as
/// they are: to the server they are opaque.
pub fn clamp_stamp(stamp: &str, now_ms: u64) -> String {
    match stamp.parse::<HlcStamp>() {
        Ok(mut parsed) if parsed.wall_ms > now_ms.saturating_add(MAX_FORWARD_DRIFT_MS) => {
            parsed.wall_ms = now_ms.saturating_add(MAX_FORWARD_DRIFT_MS);
            parsed.to_string()
        }
        _ => stamp.to_owned(),
    }
}

impl ToJson for HlcState {
    fn write_json(&self, out: &mut JsonText) {
        out.open_object();
        out.field("wallMs", &self.wall_ms);
        out.field("counter", &self.counter);
        out.close_object();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_is_fixed_width_and_round_trips() {
        let s = HlcStamp { wall_ms: 1_763_769_600_000, counter: 3, node: "c-7f2a".into() };
        assert_eq!(s.to_string(), "001763769600000-0003-c-7f2a");
        assert_eq!("001763769600000-0003-c-7f2a".parse::<HlcStamp>().unwrap(), s);
        let widest = "999999999999999-9999-é";
        assert_eq!(widest.parse::<HlcStamp>().unwrap().to_string(), widest);
    }

    #[test]
    fn malformed_stamps_are_rejected() {
        let bad_stamps = [
            "",
            "1-2-3",
            "001763769600000-003-c",
            "00176376960000x-0003-c",
            "001763769600000-0003-",
            "001763769600000x0003-c",
            "001763769600000-0003xc",
            "0017637696000000-003-c",
            "00176376960000é-0003-c",
            "001763769600000-0-03-c",
        ];
        for bad in bad_stamps {
            assert!(bad.parse::<HlcStamp>().is_err(), "{bad} parsed");
        }
    }

    #[test]
    fn string_order_is_clock_order() {
        let mut st = HlcState::default();
        let a = st.tick(5, "n");
        let b = st.tick(5, "n");
        let c = st.tick(100_000, "n");
        assert!(a < b && b < c);
        assert!(a.to_string() < b.to_string() && b.to_string() < c.to_string());
    }

    #[test]
    fn ticks_increase_when_the_wall_clock_goes_back() {
        let mut st = HlcState::default();
        let a = st.tick(1_000, "n");
        let b = st.tick(400, "n");
        assert!(b > a);
        assert_eq!(b.wall_ms, 1_000);
    }

    #[test]
    fn counter_overflow_moves_to_the_next_millisecond() {
        let mut st = HlcState { wall_ms: 10, counter: MAX_COUNTER };
        let s = st.tick(10, "n");
        assert_eq!((s.wall_ms, s.counter), (11, 0));
    }

    #[test]
    fn observe_orders_later_ticks_after_the_remote_stamp() {
        let mut st = HlcState::default();
        let remote = HlcStamp { wall_ms: 50_000, counter: 7, node: "other".into() };
        st.observe(&remote, 49_000);
        assert!(st.tick(49_000, "me") > remote);
    }

    #[test]
    fn stamps_from_the_future_are_clamped() {
        let ahead = "000000036000000-0002-c-fast";
        assert_eq!(clamp_stamp(ahead, 1_000), format!("{:015}-0002-c-fast", 1_000 + MAX_FORWARD_DRIFT_MS));
        assert_eq!(clamp_stamp("000000000000500-0000-c", 1_000), "000000000000500-0000-c");
        assert_eq!(clamp_stamp("opaque", 1_000), "opaque");
    }

    #[test]
    fn a_clock_hours_ahead_does_not_drag_us_along() {
        let mut st = HlcState::default();
        let hours_ahead = HlcStamp { wall_ms: 10 * 3_600_000, counter: 0, node: "fast".into() };
        st.observe(&hours_ahead, 1_000);
        assert_eq!(st.wall_ms, 1_000 + MAX_FORWARD_DRIFT_MS);
    }
}
