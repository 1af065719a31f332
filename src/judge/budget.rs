//! A run's spending limit for judge requests: a number of requests and a cost in USD. Every
//! request asks first; once a limit is reached no further request is made and the run says so.

use super::spec::Limits;
use std::sync::Mutex;

#[derive(Debug, Default)]
pub struct Budget {
    limits: Limits,
    state: Mutex<Spent>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Spent {
    pub requests: u64,
    pub cost_usd: f64,
    /// A request was refused because a limit was reached.
    pub exhausted: bool,
}

impl Budget {
    pub fn new(limits: Limits) -> Budget {
        Budget {
            limits,
            state: Mutex::default(),
        }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Reserves one request, or refuses when a limit is reached. The cost limit is checked
    /// against what finished requests cost; requests already in flight may take it a little over.
    pub fn try_request(&self) -> bool {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let calls_left = self.limits.max_calls.is_none_or(|m| s.requests < m);
        let money_left = self.limits.max_cost.is_none_or(|m| s.cost_usd < m);
        if calls_left && money_left && !s.exhausted {
            s.requests += 1;
            true
        } else {
            s.exhausted = true;
            false
        }
    }

    pub fn add_cost(&self, usd: f64) {
        if usd.is_finite() && usd > 0.0 {
            self.state
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .cost_usd += usd;
        }
    }

    pub fn spent(&self) -> Spent {
        *self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_at_either_limit_and_stays_stopped() {
        let b = Budget::new(Limits {
            max_calls: Some(2),
            max_cost: None,
        });
        assert!(b.try_request() && b.try_request());
        assert!(!b.try_request());
        assert_eq!(b.spent().requests, 2);
        assert!(b.spent().exhausted);

        let b = Budget::new(Limits {
            max_calls: None,
            max_cost: Some(0.01),
        });
        assert!(b.try_request());
        b.add_cost(0.004);
        assert!(b.try_request());
        b.add_cost(0.007);
        assert!(!b.try_request());
        // Once stopped, a run does not start again half-way.
        assert!(!b.try_request());
        assert!(Budget::default().try_request());
    }
}
