//! Who gets paged on which channel, at this moment, for one firing alert: the routed
//! channels of the primary doctor, then — each time the priority's ack deadline passes
//! unacknowledged — the next doctor in the chain, by voice as well (the louder channel).
//! A channel that gave up for a recipient, or whose provider is down (circuit open),
//! makes every other channel of theirs go too (failover); a transient failure on a
//! healthy provider is only retried. Pure: it only reads the alert, the chain and the outbox rows.

use crate::config::{Reliability, Routing};
use cw_core::time::{NANOS_PER_SEC, Nanos};
use cw_core::{Alert, Channel, Delivery, DeliveryStatus, UserId};

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
/// per deadline, never beyond the chain's length.
pub fn escalation_level(cfg: &Reliability, alert: &Alert, chain_len: usize, now: Nanos) -> u32 {
    let chain_len = u32::try_from(chain_len).unwrap_or(u32::MAX);
    if chain_len == 0 {
        return 0;
    }
    let deadline_s = cfg.ack_deadline_s.get(alert.priority);
    if deadline_s == 0 {
        return 1;
    }
    let elapsed = (now - alert.fired_ns).max(0);
    let passed = elapsed / (deadline_s as Nanos * NANOS_PER_SEC);
    u32::try_from(passed + 1).unwrap_or(u32::MAX).min(chain_len)
}

pub fn targets(
    routing: &Routing,
    alert: &Alert,
    chain: &[UserId],
    level: u32,
    rows: &[Delivery],
    provider_down: impl Fn(Channel) -> bool,
) -> Vec<Target> {
    let mut out = Vec::new();
    for (i, recipient) in chain.iter().take(level as usize).enumerate() {
        let lvl = i as u32 + 1;
        let mut channels: Vec<Channel> = routing.channels(alert.priority).to_vec();
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
    use cw_core::{AlertId, AlertState, PatientId, Priority, RuleKind};

    fn alert(priority: Priority) -> Alert {
        Alert {
            id: AlertId::random(),
            patient: PatientId::random(),
            rule: RuleKind::HrHigh,
            priority,
            state: AlertState::Firing,
            started_ns: 0,
            fired_ns: 0,
            acked_ns: None,
            acked_by: None,
            resolved_ns: None,
            value: 150.0,
            limit: 120.0,
            policy_version: 1,
            window_start_ns: 0,
            window_end_ns: 0,
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
        let t = targets(&routing, &a, &chain, 2, &[], |_| false);
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
            error: None,
            updated_ns: 0,
            tries: 1,
            next_try_ns: None,
        };
        let t = targets(
            &routing,
            &a,
            &chain,
            1,
            std::slice::from_ref(&failed),
            |_| false,
        );
        assert_eq!(t.len(), 4, "giving up fails over to every channel: {t:?}");
        let retrying = Delivery {
            next_try_ns: Some(1),
            ..failed
        };
        let t = targets(
            &routing,
            &a,
            &chain,
            1,
            std::slice::from_ref(&retrying),
            |_| false,
        );
        assert_eq!(t.len(), 1, "a transient failure is only retried: {t:?}");
        let t = targets(&routing, &a, &chain, 1, &[retrying], |ch| {
            ch == Channel::Sms
        });
        assert_eq!(t.len(), 4, "a down provider fails over at once: {t:?}");
    }
}
