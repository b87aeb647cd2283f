//! One socket's outbound side: messages from the patient's broadcast channel to the
//! client. The channel is the bounded per-socket queue: when this socket falls behind by
//! more than its capacity the oldest messages are skipped (`Lagged`), counted and
//! announced to the client with a `dropped` message. A socket that has dropped more than
//! `max_dropped`, or whose write does not complete within `send_timeout`, has stayed
//! behind: it ends as [`Ended::Behind`] and the caller closes it with code 4008.

use super::hub::{LiveMetrics, Text};
use super::messages::LiveMessage;
use crate::events::LiveDropped;
use axum::extract::ws::Utf8Bytes;
use cw_runtime::InternalEvent;
use futures::{Sink, SinkExt};
use std::time::Duration;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio_util::sync::CancellationToken;

pub struct Limits {
    pub send_timeout: Duration,
    pub max_dropped: u64,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// `stop` was cancelled (client closed, session over, server shutting down).
    Stopped,
    /// The client's side failed.
    ClientGone,
    /// Too slow: this many messages were dropped.
    Behind { dropped: u64 },
}

/// Forwards the messages `keeps` admits (a worklist socket: its caller's patients only;
/// a patient's socket: all) until the socket ends.
pub async fn forward<S>(
    rx: &mut broadcast::Receiver<Text>,
    sink: &mut S,
    limits: &Limits,
    metrics: &LiveMetrics,
    stop: &CancellationToken,
    keeps: impl Fn(&Text) -> bool,
) -> Ended
where
    S: Sink<Utf8Bytes> + Unpin,
{
    let mut dropped = 0u64;
    loop {
        let next = tokio::select! {
            _ = stop.cancelled() => return Ended::Stopped,
            next = rx.recv() => next,
        };
        let (text, queued_ns) = match next {
            Ok(text) if keeps(&text) => (text.body, Some(text.queued_ns)),
            Ok(_) => continue,
            Err(RecvError::Lagged(n)) => {
                dropped += n;
                LiveDropped { messages: n }.emit(metrics);
                if dropped > limits.max_dropped {
                    return Ended::Behind { dropped };
                }
                (LiveMessage::Dropped { dropped }.to_text().into(), None)
            }
            // The hub dropped the feed: only at shutdown.
            Err(RecvError::Closed) => return Ended::Stopped,
        };
        let sent = tokio::select! {
            _ = stop.cancelled() => return Ended::Stopped,
            sent = tokio::time::timeout(limits.send_timeout, sink.send(text)) => sent,
        };
        match sent {
            Ok(Ok(())) => {
                if let Some(queued_ns) = queued_ns {
                    metrics.stages.hub_to_socket.since(queued_ns);
                }
            }
            Ok(Err(_)) => return Ended::ClientGone,
            Err(_) => return Ended::Behind { dropped },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;
    use futures::channel::mpsc;

    fn limits(max_dropped: u64) -> Limits {
        Limits {
            send_timeout: Duration::from_millis(200),
            max_dropped,
        }
    }

    #[tokio::test]
    async fn a_socket_behind_loses_the_oldest_messages_and_is_told_how_many() {
        let (tx, mut rx) = broadcast::channel::<Text>(4);
        for i in 0..10 {
            tx.send(format!("m{i}").into()).expect("a receiver");
        }
        drop(tx);
        let (mut sink, mut client) = mpsc::channel::<Utf8Bytes>(64);
        let metrics = LiveMetrics::default();
        let ended = forward(
            &mut rx,
            &mut sink,
            &limits(100),
            &metrics,
            &CancellationToken::new(),
            |_| true,
        )
        .await;
        assert_eq!(ended, Ended::Stopped);
        drop(sink);
        let got: Vec<String> = client
            .by_ref()
            .map(|text| text.as_str().to_owned())
            .collect()
            .await;
        assert_eq!(
            got,
            vec![
                r#"{"type":"dropped","dropped":6}"#.to_owned(),
                "m6".into(),
                "m7".into(),
                "m8".into(),
                "m9".into()
            ]
        );
        assert_eq!(metrics.dropped.get(), 6);
        let written = metrics.stages.render();
        assert!(
            written.contains("cw_api_live_hub_to_socket_seconds_count 4"),
            "each message written is one hub → socket span: {written}"
        );
    }

    #[tokio::test]
    async fn a_socket_sends_only_the_messages_its_scope_keeps() {
        let (tx, mut rx) = broadcast::channel::<Text>(8);
        let (mine, theirs) = (cw_core::PatientId::random(), cw_core::PatientId::random());
        for (i, patient) in [&mine, &theirs, &mine].into_iter().enumerate() {
            let text = Text {
                patient: Some(patient.clone()),
                ..Text::from(format!("m{i}"))
            };
            tx.send(text).expect("a receiver");
        }
        drop(tx);
        let (mut sink, client) = mpsc::channel::<Utf8Bytes>(8);
        let ended = forward(
            &mut rx,
            &mut sink,
            &limits(100),
            &LiveMetrics::default(),
            &CancellationToken::new(),
            |text| text.patient.as_ref() == Some(&mine),
        )
        .await;
        assert_eq!(ended, Ended::Stopped);
        drop(sink);
        let got: Vec<String> = client.map(|t| t.as_str().to_owned()).collect().await;
        assert_eq!(got, vec!["m0".to_owned(), "m2".into()]);
    }

    #[tokio::test]
    async fn a_socket_that_drops_more_than_the_limit_is_behind() {
        let (tx, mut rx) = broadcast::channel::<Text>(4);
        for i in 0..20 {
            tx.send(format!("m{i}").into()).expect("a receiver");
        }
        let (mut sink, _client) = mpsc::channel::<Utf8Bytes>(64);
        let ended = forward(
            &mut rx,
            &mut sink,
            &limits(10),
            &LiveMetrics::default(),
            &CancellationToken::new(),
            |_| true,
        )
        .await;
        assert_eq!(ended, Ended::Behind { dropped: 16 });
    }

    #[tokio::test]
    async fn a_client_that_stops_reading_is_behind_after_the_send_timeout() {
        let (tx, mut rx) = broadcast::channel::<Text>(64);
        for i in 0..10 {
            tx.send(format!("m{i}").into()).expect("a receiver");
        }
        // Room for one message and never read: the second write waits forever.
        let (mut sink, _client) = mpsc::channel::<Utf8Bytes>(0);
        let started = std::time::Instant::now();
        let ended = forward(
            &mut rx,
            &mut sink,
            &limits(100),
            &LiveMetrics::default(),
            &CancellationToken::new(),
            |_| true,
        )
        .await;
        assert_eq!(ended, Ended::Behind { dropped: 0 });
        assert!(started.elapsed() >= Duration::from_millis(200));
    }
}
