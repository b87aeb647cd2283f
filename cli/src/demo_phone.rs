//! The demo doctor's phone: after the first page arrives at the Twilio sandbox it answers
//! the way a doctor would — a text reply with the page's code, or the key `1` on the
//! alert call — posted by
//! the sandbox to the notifier's webhook listener, signed like Twilio signs it. The
//! notifier checks the signature and acknowledges the alert, exactly as in production.

use anyhow::Context;
use cw_core::secret::{ExposeSecret, SecretString};
use cw_sandbox::TwilioSandbox;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How the demo doctor acknowledges.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PhoneAck {
    /// Reply to the SMS with the code it carries.
    Sms,
    /// Press 1 on the alert call.
    Key,
    /// Never: the alert escalates.
    None,
}

pub struct Phone<'a> {
    pub sandbox: &'a TwilioSandbox,
    /// The Twilio auth token the sandbox signs with (the notifier's).
    pub auth_token: SecretString,
    pub webhook_addr: SocketAddr,
    pub ca_cert: &'a Path,
    pub how: PhoneAck,
    pub after: Duration,
}

impl Phone<'_> {
    /// Waits for the first page, then `after`, then acknowledges once.
    pub async fn answer(&self, shutdown: &CancellationToken) -> anyhow::Result<()> {
        if self.how == PhoneAck::None {
            return Ok(());
        }
        let ca = std::fs::read(self.ca_cert).context("reading the dev CA")?;
        let client = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&ca)?)
            .timeout(Duration::from_secs(10))
            .build()?;
        let forever = Duration::from_secs(24 * 3600);
        let page = async {
            match self.how {
                PhoneAck::Key => self
                    .sandbox
                    .wait_for_calls(1, forever)
                    .await
                    .first()
                    .map(|c| (c.sid.clone(), String::new())),
                _ => self
                    .sandbox
                    .wait_for_messages(1, forever)
                    .await
                    .first()
                    .map(|m| (m.to.clone(), m.body.clone())),
            }
        };
        let target = tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            page = page => page,
        };
        let Some((target, text)) = target else {
            return Ok(());
        };
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = tokio::time::sleep(self.after) => {}
        }
        let (status, _) = match self.how {
            PhoneAck::Key => {
                println!("PHONE the doctor presses 1 on call {target}");
                self.sandbox
                    .press_key(&client, self.auth_token.expose_secret(), &target, "1")
                    .await
            }
            _ => {
                let url = format!(
                    "https://{}{}",
                    self.webhook_addr,
                    cw_notifier::webhooks::SMS_PATH
                );
                // The reply names the page it answers (docs/security.md, Edge).
                let code = cw_notifier::message::code_in_sms(&text)
                    .context("the SMS page carries no code to reply with")?;
                println!("PHONE the doctor at {target} replies \"{code}\" by SMS");
                self.sandbox
                    .reply_sms(
                        &client,
                        self.auth_token.expose_secret(),
                        &url,
                        &target,
                        code,
                    )
                    .await
            }
        }
        .map_err(|e| anyhow::anyhow!("posting the phone's answer: {e}"))?;
        println!("PHONE webhook answered {status}");
        Ok(())
    }
}
