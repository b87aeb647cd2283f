//! The rules for a user's contact points (E.164 phone, email) and notification
//! preferences: one set, used by the api (`PUT /v1/users/{id}`, `PUT /v1/users/me/notify`)
//! and by `cardiowatch user set-contact`, so a number the notifier pages can only be one
//! Twilio accepts. Error messages never repeat the value: they may end up in logs.

use crate::delivery::{Channel, NotifyPreferences};
use crate::time::Nanos;

/// What is wrong, and with which input field (dotted for nested ones: `notify.medium`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ContactError {
    pub field: String,
    pub message: String,
}

fn invalid(field: &str, message: impl Into<String>) -> ContactError {
    ContactError {
        field: field.to_owned(),
        message: message.into(),
    }
}

/// E.164: `+`, a country code that does not start with 0, 8 to 15 digits in all, nothing
/// else (no spaces or dashes: the notifier hands the number to the provider as it is).
pub fn check_phone(phone: &str) -> Result<(), ContactError> {
    let digits = phone.strip_prefix('+').unwrap_or("");
    let ok = (8..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "phone",
            "phone is E.164: '+' then 8 to 15 digits, the first not 0, no spaces",
        ))
    }
}

/// A plain address `local@domain`: the local part of letters, digits and
/// `.!#$%&'*+/=?^_`{|}~-` (no leading, trailing or doubled dot), a domain of two or more
/// dot-separated labels of letters, digits and inner hyphens, an alphabetic top-level
/// label; 254 characters at most. Quoted local parts and IP-literal domains are refused.
pub fn check_email(email: &str) -> Result<(), ContactError> {
    if valid_email(email) {
        Ok(())
    } else {
        Err(invalid(
            "email",
            "email is a plain address like name@hospital.example (no spaces, quotes or IP literals)",
        ))
    }
}

fn valid_email(email: &str) -> bool {
    if email.len() > 254 {
        return false;
    }
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    let local_ok = (1..=64).contains(&local.len())
        && local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._!#$%&'*+/=?^`{|}~-".contains(&b))
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..");
    let labels: Vec<&str> = domain.split('.').collect();
    let labels_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            (1..=63).contains(&l.len())
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        });
    let tld_ok = labels
        .last()
        .is_some_and(|t| t.len() >= 2 && t.bytes().all(|b| b.is_ascii_alphabetic()));
    local_ok && labels_ok && tld_ok
}

/// Preferences as stored must make sense for the user they belong to: each priority's
/// channel list non-empty and without repeats, and naming only channels the user can be
/// reached on (`sms`/`voice` need a phone, `email` an email); quiet hours within the day
/// (minutes 0–1439) and not empty; a snooze in the future and at most `max_snooze_ns`
/// from `now` (the notifier ignores longer ones: a silence always ends). High priority
/// is paged on every routed channel whatever the list says — the notifier enforces it.
pub fn check_notify(
    prefs: &NotifyPreferences,
    has_phone: bool,
    has_email: bool,
    now: Nanos,
    max_snooze_ns: Nanos,
) -> Result<(), ContactError> {
    for (name, list) in [
        ("notify.high", &prefs.high),
        ("notify.medium", &prefs.medium),
        ("notify.low", &prefs.low),
    ] {
        let Some(list) = list else { continue };
        if list.is_empty() {
            return Err(invalid(
                name,
                "a priority's channel list names at least one channel (leave it out for the service's routing)",
            ));
        }
        for (i, channel) in list.iter().enumerate() {
            if list[..i].contains(channel) {
                return Err(invalid(
                    name,
                    format!("{} is listed twice", channel.as_str()),
                ));
            }
            let reachable = match channel {
                Channel::Sms | Channel::Voice => has_phone,
                Channel::Email => has_email,
                Channel::InApp => true,
                Channel::AlertManager => {
                    return Err(invalid(
                        name,
                        "alert_manager is the hospital's alert manager, not a channel to a person",
                    ));
                }
            };
            if !reachable {
                let needs = if *channel == Channel::Email {
                    "an email"
                } else {
                    "a phone"
                };
                return Err(invalid(
                    name,
                    format!(
                        "{} needs {needs} on the user's record (an admin sets it with PUT /v1/users/{{id}})",
                        channel.as_str()
                    ),
                ));
            }
        }
    }
    if let Some(q) = prefs.quiet_hours {
        for (name, minute) in [
            ("notify.quiet_hours.start_min_utc", q.start_min_utc),
            ("notify.quiet_hours.end_min_utc", q.end_min_utc),
        ] {
            if minute >= 24 * 60 {
                return Err(invalid(name, "minutes after midnight UTC, 0 to 1439"));
            }
        }
        if q.start_min_utc == q.end_min_utc {
            return Err(invalid(
                "notify.quiet_hours",
                "start and end are equal: the window would be empty (leave quiet_hours out instead)",
            ));
        }
    }
    if let Some(until) = prefs.snooze_until_ns
        && !(until > now && until - now <= max_snooze_ns)
    {
        return Err(invalid(
            "notify.snooze_until_ns",
            format!(
                "a snooze ends in the future and at most {} s from now",
                max_snooze_ns / crate::time::NANOS_PER_SEC
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::QuietHours;
    use crate::time::NANOS_PER_SEC;

    #[test]
    fn phones_are_plus_and_8_to_15_digits_only() {
        for good in [
            "+15005550006",
            "+33612345678",
            "+12345678",
            "+123456789012345",
        ] {
            assert_eq!(check_phone(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "15005550006",
            "+1234567",
            "+1234567890123456",
            "+1 500 555 0006",
            "+1-500-555-0006",
            "+0123456789",
            "++15005550006",
            "+15005550006 ",
            "+１５００５５５０００６",
        ] {
            let e = check_phone(bad).expect_err(bad);
            assert_eq!(e.field, "phone");
            assert!(
                bad.is_empty() || !e.message.contains(bad),
                "no value in the message"
            );
        }
    }

    #[test]
    fn emails_are_plain_addresses() {
        for good in [
            "dr.house@hospital.example",
            "a+b@x.org",
            "o'neil@ward-3.hospital.example",
        ] {
            assert_eq!(check_email(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "no-at-sign",
            "@hospital.example",
            "dr@",
            "dr@localhost",
            "dr@@hospital.example",
            "dr@hospital..example",
            ".dr@hospital.example",
            "dr.@hospital.example",
            "d..r@hospital.example",
            "dr house@hospital.example",
            "\"dr\"@hospital.example",
            "dr@[127.0.0.1]",
            "dr@-ward.example",
            "dr@hospital.123",
            "dr@hospital.example\n",
        ] {
            assert_eq!(check_email(bad).expect_err(bad).field, "email");
        }
        assert!(check_email(&format!("{}@x.org", "a".repeat(65))).is_err());
    }

    const HOUR: Nanos = 3_600 * NANOS_PER_SEC;

    fn field(prefs: &NotifyPreferences, phone: bool, email: bool) -> Option<String> {
        check_notify(prefs, phone, email, 0, 4 * HOUR)
            .err()
            .map(|e| e.field)
    }

    #[test]
    fn preferences_name_reachable_channels_once_each() {
        let sms_first = NotifyPreferences {
            medium: Some(vec![Channel::Sms, Channel::InApp]),
            ..Default::default()
        };
        assert_eq!(field(&sms_first, true, false), None);
        assert_eq!(
            field(&sms_first, false, true).as_deref(),
            Some("notify.medium")
        );
        let email = NotifyPreferences {
            low: Some(vec![Channel::Email]),
            ..Default::default()
        };
        assert_eq!(field(&email, true, false).as_deref(), Some("notify.low"));
        let twice = NotifyPreferences {
            high: Some(vec![Channel::InApp, Channel::InApp]),
            ..Default::default()
        };
        assert_eq!(field(&twice, true, true).as_deref(), Some("notify.high"));
        let empty = NotifyPreferences {
            low: Some(vec![]),
            ..Default::default()
        };
        assert_eq!(field(&empty, true, true).as_deref(), Some("notify.low"));
        assert_eq!(field(&NotifyPreferences::default(), false, false), None);
    }

    #[test]
    fn quiet_hours_lie_within_the_day_and_are_not_empty() {
        let quiet = |start_min_utc, end_min_utc| NotifyPreferences {
            quiet_hours: Some(QuietHours {
                start_min_utc,
                end_min_utc,
            }),
            ..Default::default()
        };
        assert_eq!(field(&quiet(22 * 60, 6 * 60), false, false), None);
        assert_eq!(
            field(&quiet(1440, 60), false, false).as_deref(),
            Some("notify.quiet_hours.start_min_utc")
        );
        assert_eq!(
            field(&quiet(60, 2000), false, false).as_deref(),
            Some("notify.quiet_hours.end_min_utc")
        );
        assert_eq!(
            field(&quiet(60, 60), false, false).as_deref(),
            Some("notify.quiet_hours")
        );
    }

    #[test]
    fn a_snooze_ends_in_the_future_within_the_bound() {
        let snooze = |until| NotifyPreferences {
            snooze_until_ns: Some(until),
            ..Default::default()
        };
        assert_eq!(field(&snooze(HOUR), false, false), None);
        assert_eq!(field(&snooze(4 * HOUR), false, false), None);
        for bad in [0, -HOUR, 4 * HOUR + 1] {
            assert_eq!(
                field(&snooze(bad), false, false).as_deref(),
                Some("notify.snooze_until_ns")
            );
        }
    }
}
