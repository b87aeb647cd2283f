//! Who gets paged on which channel, at this moment, for one firing alert: the routed
//! channels of the primary doctor, then — each time the priority's ack deadline passes
//! unacknowledged, or at once when a clinician asked to "escalate now" — the next doctor
//! in the chain, by voice as well (the louder channel).
//! A channel that gave up for a recipient, or whose provider is down (circuit open),
//! makes every other channel of theirs go too (failover); a transient failure on a
//! healthy provider is only retried. Pure: it only reads the alert, the chain and the outbox rows.

use crate::config::{Reliability, Routing};
use cw_core::snooze::AlertSnooze;
use cw_core::time::{NANOS_PER_SEC, Nanos};
use cw_core::{Alert, Channel, Delivery, DeliveryStatus, Priority, User, UserId};
use std::collections::HashMap;

pub const ALL_CHANNELS: [Channel; 4] =
    [Channel::Sms, Channel::Voice, Channel::Email, Channel::InApp];

/// One page to make: (escalation level = attempt group, recipient, channel).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub level: u32,
    pub recipient: UserId,
    pub channel: Channel,
}

/// The escalation level reached at `now`: 1 until the ack deadline passes, then one more
/// per deadline, never beyond the chain's length. The deadline clock stands still while
/// the alert is snoozed (a snooze within the bound), so no escalation happens during one
/// and it resumes where it was afterwards. An "escalate now" (`Alert.escalation`) reaches
/// its step at once and restarts the clock there: the doctor it brings in gets a whole
/// deadline before the next one is paged.
pub fn escalation_level(cfg: &Reliability, alert: &Alert, chain_len: usize, now: Nanos) -> u32 {
    let chain_len = u32::try_from(chain_len).unwrap_or(u32::MAX);
    if chain_len == 0 {
        return 0;
    }
    let asked = alert.escalation.as_deref();
    let deadline_s = cfg.ack_deadline_s.get(alert.priority);
    if deadline_s == 0 {
        return asked.map_or(1, |e| e.level.max(1)).min(chain_len);
    }
    let max_snooze_ns = cfg.max_snooze_s as Nanos * NANOS_PER_SEC;
    let snooze = alert
        .snooze
        .as_deref()
        .filter(|s| s.until_ns - s.at_ns <= max_snooze_ns)
        .and_then(|_| snooze_in_force(alert));
    // Time on the deadline clock at `t`: since firing, less the time snoozed.
    let clock =
        |t: Nanos| (t - alert.fired_ns - snooze.as_ref().map_or(0, |s| s.paused_ns(t))).max(0);
    let per_step = deadline_s as Nanos * NANOS_PER_SEC;
    let by_deadline = clock(now) / per_step + 1;
    let by_request = asked.map_or(0, |e| {
        Nanos::from(e.level) + (clock(now) - clock(e.at_ns)).max(0) / per_step
    });
    u32::try_from(by_deadline.max(by_request))
        .unwrap_or(u32::MAX)
        .min(chain_len)
}

/// The alert's snooze as it stands: an "escalate now" asked after it ends it there (a
/// request to page louder overrides an earlier one for quiet).
pub fn snooze_in_force(alert: &Alert) -> Option<AlertSnooze> {
    let mut snooze = alert.snooze.as_deref()?.clone();
    if let Some(asked) = alert.escalation.as_deref()
        && asked.at_ns >= snooze.at_ns
    {
        snooze.until_ns = snooze.until_ns.min(asked.at_ns);
    }
    Some(snooze)
}

/// The channels a recipient gets for an alert of `priority` at `now`: their preference
/// (or the service's routing); high priority always adds every routed channel and
/// ignores quiet hours and snoozes; otherwise a quiet or snoozed user gets in-app only.
/// A snooze longer than `max_snooze_ns` from now is not honoured: snoozes are bounded.
pub fn channels_for(
    routing: &Routing,
    priority: Priority,
    user: Option<&User>,
    now: Nanos,
    max_snooze_ns: Nanos,
) -> Vec<Channel> {
    let base = routing.channels(priority);
    let Some(prefs) = user.map(|u| &u.notify) else {
        return base.to_vec();
    };
    let wanted = match priority {
        Priority::High => &prefs.high,
        Priority::Medium => &prefs.medium,
        Priority::Low => &prefs.low,
    };
    let mut channels = wanted.clone().unwrap_or_else(|| base.to_vec());
    if priority == Priority::High {
        for ch in base {
            if !channels.contains(ch) {
                channels.push(*ch);
            }
        }
        return channels;
    }
    let minute = ((now.rem_euclid(86_400 * NANOS_PER_SEC)) / (60 * NANOS_PER_SEC)) as u16;
    let quiet = prefs.quiet_hours.is_some_and(|q| q.contains(minute));
    let snoozed = prefs
        .snooze_until_ns
        .is_some_and(|until| cw_core::snooze::honoured(now, until, now, max_snooze_ns));
    if quiet || snoozed {
        return vec![Channel::InApp];
    }
    channels
}

/// What a plan is made from: the alert, its escalation chain and how far along it the
/// alert has escalated, the deliveries already attempted, and the clock.
#[derive(Clone, Copy)]
pub struct Situation<'a> {
    pub routing: &'a Routing,
    pub alert: &'a Alert,
    /// The patient's doctors in escalation order.
    pub chain: &'a [UserId],
    /// The chain's users (preferences, contact points) as far as `level` reaches.
    pub users: &'a HashMap<UserId, User>,
    /// How many people of the chain are paged now (from `escalation_level`).
    pub level: u32,
    /// The alert's delivery rows so far.
    pub rows: &'a [Delivery],
    pub now: Nanos,
    /// Longest snooze the notifier honours (a silence always has an end).
    pub max_snooze_ns: Nanos,
}

/// Who gets paged on which channel now. `provider_down` says whether a channel's
/// provider is known to be down (its circuit breaker is open), so a failed delivery
/// fails over at once instead of waiting for its retries.
pub fn targets(situation: &Situation<'_>, provider_down: impl Fn(Channel) -> bool) -> Vec<Target> {
    let Situation {
        routing,
        alert,
        chain,
        users,
        level,
        rows,
        now,
        max_snooze_ns,
    } = *situation;
    let mut out = Vec::new();
    // A snoozed alert (never high: the api refuses that) pages in-app only, like a
    // snoozed user, and fails over to nothing louder.
    let alert_snoozed = alert.priority != Priority::High
        && snooze_in_force(alert).is_some_and(|s| s.honoured(now, max_snooze_ns));
    for (i, recipient) in chain.iter().take(level as usize).enumerate() {
        let lvl = i as u32 + 1;
        if alert_snoozed {
            out.push(Target {
                level: lvl,
                recipient: recipient.clone(),
                channel: Channel::InApp,
            });
            continue;
        }
        let mut channels = channels_for(
            routing,
            alert.priority,
            users.get(recipient),
            now,
            max_snooze_ns,
        );
        if lvl >= 2 && !channels.contains(&Channel::Voice) {
            channels.push(Channel::Voice);
        }
        let failed_one = rows.iter().any(|d| {
            d.attempt == lvl
                && &d.recipient == recipient
                && d.status == DeliveryStatus::Failed
                && (d.next_try_ns.is_none() || provider_down(d.channel))
        });
        if failed_one {
            for ch in ALL_CHANNELS {
                if !channels.contains(&ch) {
                    channels.push(ch);
                }
            }
        }
        out.extend(channels.into_iter().map(|channel| Target {
            level: lvl,
            recipient: recipient.clone(),
            channel,
        }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use cw_core::{PatientId, Priority, RuleKind};

    fn alert(priority: Priority) -> Alert {
        Alert {
            value: 150.0,
            limit: 120.0,
            policy_version: 1,
            ..Alert::firing(PatientId::random(), RuleKind::HrHigh, priority, 0)
        }
    }

    /// No deliveries yet, at time 0, no snooze honoured.
    fn situation<'a>(
        routing: &'a Routing,
        alert: &'a Alert,
        chain: &'a [UserId],
        users: &'a HashMap<UserId, User>,
        level: u32,
    ) -> Situation<'a> {
        Situation {
            routing,
            alert,
            chain,
            users,
            level,
            rows: &[],
            now: 0,
            max_snooze_ns: 0,
        }
    }

    #[test]
    fn level_rises_per_ack_deadline_up_to_the_chain() {
        let cfg = Reliability::default();
        let a = alert(Priority::High);
        let s = NANOS_PER_SEC;
        assert_eq!(escalation_level(&cfg, &a, 3, 0), 1);
        assert_eq!(escalation_level(&cfg, &a, 3, 121 * s), 2);
        assert_eq!(escalation_level(&cfg, &a, 3, 10_000 * s), 3);
        assert_eq!(
            escalation_level(&cfg, &alert(Priority::Low), 3, 10_000 * s),
            1
        );
    }

    fn user(notify: cw_core::delivery::NotifyPreferences) -> User {
        User {
            id: UserId::parse("dr-p").expect("id"),
            role: cw_core::Role::Doctor,
            phone: None,
            email: None,
            notify,
            disabled: None,
            sessions: Default::default(),
        }
    }

    #[test]
    fn preferences_quiet_hours_and_bounded_snooze() {
        use cw_core::delivery::{NotifyPreferences, QuietHours};
        let routing = Routing::default();
        let hour = 3_600 * NANOS_PER_SEC;
        let noon = 12 * hour;
        let prefs = NotifyPreferences {
            medium: Some(vec![Channel::Email]),
            high: Some(vec![Channel::Email]),
            ..NotifyPreferences::default()
        };
        let u = user(prefs.clone());
        assert_eq!(
            channels_for(&routing, Priority::Medium, Some(&u), noon, hour),
            vec![Channel::Email]
        );
        assert_eq!(
            channels_for(&routing, Priority::High, Some(&u), noon, hour).len(),
            4,
            "high goes to every routed channel whatever the preference"
        );
        let quiet = user(NotifyPreferences {
            quiet_hours: Some(QuietHours {
                start_min_utc: 11 * 60,
                end_min_utc: 13 * 60,
            }),
            ..prefs.clone()
        });
        assert_eq!(
            channels_for(&routing, Priority::Medium, Some(&quiet), noon, hour),
            vec![Channel::InApp]
        );
        assert_eq!(
            channels_for(&routing, Priority::High, Some(&quiet), noon, hour).len(),
            4,
            "quiet hours never for high"
        );
        let snoozed = |until| {
            user(NotifyPreferences {
                snooze_until_ns: Some(until),
                ..prefs.clone()
            })
        };
        assert_eq!(
            channels_for(
                &routing,
                Priority::Low,
                Some(&snoozed(noon + hour / 2)),
                noon,
                hour
            ),
            vec![Channel::InApp]
        );
        assert_eq!(
            channels_for(
                &routing,
                Priority::Low,
                Some(&snoozed(noon + 10 * hour)),
                noon,
                hour
            ),
            routing.low,
            "a snooze beyond the bound is not honoured"
        );
    }

    #[test]
    fn a_snoozed_alert_pages_in_app_only_and_its_deadline_clock_stands_still() {
        let cfg = Reliability::default();
        let s = NANOS_PER_SEC;
        let mut a = alert(Priority::Medium);
        // Medium ack deadline 600 s; snoozed from 300 s to 1,200 s.
        a.snooze = Some(Box::new(cw_core::snooze::AlertSnooze::replacing(
            None,
            300 * s,
            1_200 * s,
            "dr-a",
            "seen, treating",
        )));
        assert_eq!(escalation_level(&cfg, &a, 3, 1_100 * s), 1, "held");
        assert_eq!(
            escalation_level(&cfg, &a, 3, 1_400 * s),
            1,
            "300 + 200 s run"
        );
        assert_eq!(
            escalation_level(&cfg, &a, 3, 1_500 * s),
            2,
            "resumes after it"
        );
        let chain = [UserId::parse("dr-a").expect("id")];
        let (routing, users) = (Routing::default(), HashMap::new());
        let during = Situation {
            now: 600 * s,
            max_snooze_ns: cfg.max_snooze_s as Nanos * s,
            ..situation(&routing, &a, &chain, &users, 1)
        };
        let paged = targets(&during, |_| true);
        assert!(
            paged.iter().all(|t| t.channel == Channel::InApp),
            "{paged:?}"
        );
        let after = targets(
            &Situation {
                now: 1_300 * s,
                ..during
            },
            |_| false,
        );
        assert!(after.iter().any(|t| t.channel != Channel::InApp));
        let too_long = targets(
            &Situation {
                max_snooze_ns: 600 * s,
                ..during
            },
            |_| false,
        );
        assert!(
            too_long.iter().any(|t| t.channel != Channel::InApp),
            "a snooze beyond the notifier's bound is not honoured"
        );
    }

    fn escalate_now(
        level: u32,
        at_ns: Nanos,
    ) -> Option<Box<cw_core::escalation::EscalationRequest>> {
        Some(Box::new(cw_core::escalation::EscalationRequest {
            level,
            at_ns,
            by: "dr-a".into(),
        }))
    }

    #[test]
    fn escalate_now_reaches_its_step_at_once_and_restarts_the_clock_there() {
        let cfg = Reliability::default();
        let s = NANOS_PER_SEC;
        // High: ack deadline 120 s. Escalated to step 2 at 30 s.
        let a = Alert {
            escalation: escalate_now(2, 30 * s),
            ..alert(Priority::High)
        };
        assert_eq!(
            escalation_level(&cfg, &alert(Priority::High), 3, 100 * s),
            1
        );
        assert_eq!(escalation_level(&cfg, &a, 3, 30 * s), 2, "at once");
        assert_eq!(
            escalation_level(&cfg, &a, 3, 149 * s),
            2,
            "step 2 gets a whole deadline"
        );
        assert_eq!(escalation_level(&cfg, &a, 3, 150 * s), 3);
        assert_eq!(
            escalation_level(&cfg, &a, 2, 150 * s),
            2,
            "never past the chain"
        );
        let low = Alert {
            escalation: escalate_now(2, 30 * s),
            ..alert(Priority::Low)
        };
        assert_eq!(
            escalation_level(&cfg, &low, 3, 40 * s),
            2,
            "also where the deadline never escalates"
        );
    }

    #[test]
    fn escalate_now_ends_an_earlier_snooze() {
        let cfg = Reliability::default();
        let s = NANOS_PER_SEC;
        // Medium: ack deadline 600 s; snoozed from 300 s to 1,200 s, escalated at 400 s.
        let a = Alert {
            snooze: Some(Box::new(cw_core::snooze::AlertSnooze::replacing(
                None,
                300 * s,
                1_200 * s,
                "dr-a",
                "seen",
            ))),
            escalation: escalate_now(2, 400 * s),
            ..alert(Priority::Medium)
        };
        assert_eq!(escalation_level(&cfg, &a, 3, 500 * s), 2);
        // The clock stood still 100 s (300–400 s), then runs for step 2: 600 s later.
        assert_eq!(escalation_level(&cfg, &a, 3, 999 * s), 2);
        assert_eq!(escalation_level(&cfg, &a, 3, 1_000 * s), 3);
        let chain = [
            UserId::parse("dr-a").expect("id"),
            UserId::parse("dr-b").expect("id"),
        ];
        let (routing, users) = (Routing::default(), HashMap::new());
        let paged = targets(
            &Situation {
                now: 500 * s,
                max_snooze_ns: cfg.max_snooze_s as Nanos * s,
                ..situation(&routing, &a, &chain, &users, 2)
            },
            |_| false,
        );
        assert!(
            paged
                .iter()
                .any(|t| t.level == 2 && t.channel == Channel::Voice),
            "paged aloud despite the snooze: {paged:?}"
        );
    }

    #[test]
    fn next_doctor_gets_voice_and_a_failure_fails_over() {
        let routing = Routing {
            medium: vec![Channel::Sms],
            ..Routing::default()
        };
        let a = alert(Priority::Medium);
        let chain = [
            UserId::parse("dr-a").expect("id"),
            UserId::parse("dr-b").expect("id"),
        ];
        let users = HashMap::new();
        let t = targets(&situation(&routing, &a, &chain, &users, 2), |_| false);
        let b: Vec<_> = t
            .iter()
            .filter(|t| t.level == 2)
            .map(|t| t.channel)
            .collect();
        assert_eq!(b, vec![Channel::Sms, Channel::Voice]);

        let failed = Delivery {
            alert: a.id.clone(),
            channel: Channel::Sms,
            recipient: chain[0].clone(),
            attempt: 1,
            status: DeliveryStatus::Failed,
            provider_id: None,
            sent_ns: None,
            error: None,
            updated_ns: 0,
            tries: 1,
            next_try_ns: None,
            version: 0,
        };
        let first_level = situation(&routing, &a, &chain, &users, 1);
        let t = targets(
            &Situation {
                rows: std::slice::from_ref(&failed),
                ..first_level
            },
            |_| false,
        );
        assert_eq!(t.len(), 4, "giving up fails over to every channel: {t:?}");
        let retrying = [Delivery {
            next_try_ns: Some(1),
            ..failed
        }];
        let retrying = Situation {
            rows: &retrying,
            ..first_level
        };
        let t = targets(&retrying, |_| false);
        assert_eq!(t.len(), 1, "a transient failure is only retried: {t:?}");
        let t = targets(&retrying, |ch| ch == Channel::Sms);
        assert_eq!(t.len(), 4, "a down provider fails over at once: {t:?}");
    }
}
