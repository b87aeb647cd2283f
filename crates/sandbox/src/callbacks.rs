//! What Twilio sends back to the application: status callbacks, an SMS reply from the
//! doctor's phone, a key press on an alert call — each signed with `X-Twilio-Signature`
//! the way Twilio signs it (written here independently of the notifier's verifier, so a
//! mistake in one does not cancel out in the other).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha1::Sha1;

/// base64(HMAC-SHA1(token, url + concatenated sorted name/value pairs)).
pub fn twilio_signature(auth_token: &str, url: &str, params: &[(&str, &str)]) -> String {
    let mut data = url.to_owned();
    let mut sorted = params.to_vec();
    sorted.sort();
    for (k, v) in sorted {
        data.push_str(k);
        data.push_str(v);
    }
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(auth_token.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(data.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// POSTs a signed form to `url` as Twilio would; returns (status, body).
pub async fn post_signed(
    client: &reqwest::Client,
    auth_token: &str,
    url: &str,
    params: &[(&str, &str)],
) -> reqwest::Result<(u16, String)> {
    let signature = twilio_signature(auth_token, url, params);
    post_with_signature(client, url, params, Some(&signature)).await
}

/// POSTs a form with whatever signature header the caller gives (or none): for tests
/// that forged requests are refused.
pub async fn post_with_signature(
    client: &reqwest::Client,
    url: &str,
    params: &[(&str, &str)],
    signature: Option<&str>,
) -> reqwest::Result<(u16, String)> {
    let mut req = client.post(url).form(params);
    if let Some(sig) = signature {
        req = req.header("X-Twilio-Signature", sig);
    }
    let resp = req.send().await?;
    let status = resp.status().as_u16();
    Ok((status, resp.text().await?))
}

/// The `action` URL of the first `<Gather>` in a TwiML document, XML-unescaped.
pub fn gather_action(twiml: &str) -> Option<String> {
    let gather = &twiml[twiml.find("<Gather")?..];
    let start = gather.find("action=\"")? + "action=\"".len();
    let end = gather[start..].find('"')? + start;
    Some(
        gather[start..end]
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_twilios_documented_example() {
        let params = [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ];
        assert_eq!(
            twilio_signature(
                "12345",
                "https://mycompany.com/myapp.php?foo=1&bar=2",
                &params
            ),
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        );
    }

    #[test]
    fn finds_the_gather_action() {
        let xml = r#"<Response><Gather numDigits="1" action="https://h/g?alert=a&amp;key=k"><Say>x</Say></Gather></Response>"#;
        assert_eq!(
            gather_action(xml).as_deref(),
            Some("https://h/g?alert=a&key=k")
        );
        assert_eq!(gather_action("<Response><Say>x</Say></Response>"), None);
    }
}
