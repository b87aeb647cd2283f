//! SampleStore behaviours.

use crate::fixtures::{T0, block, device_id, expected_frames, patient_id};
use cw_core::time::NANOS_PER_SEC;
use cw_storage::Stores;

pub async fn resent_block_is_idempotent(s: &Stores) {
    let (p, d) = (patient_id(), device_id());
    let b = block(&p, &d, 1, T0, 250, 2, 250);
    s.samples
        .write(std::slice::from_ref(&b))
        .await
        .expect("write");
    let range = (T0, b.end_ns());
    assert_eq!(
        s.samples
            .count_frames(&p, range.0, range.1)
            .await
            .expect("count"),
        250
    );

    s.samples
        .write(&[b.clone(), b.clone()])
        .await
        .expect("resend");
    assert_eq!(
        s.samples
            .count_frames(&p, range.0, range.1)
            .await
            .expect("count"),
        250
    );
    assert_eq!(
        s.samples
            .frames(&p, range.0, range.1)
            .await
            .expect("frames"),
        expected_frames(&[&b], range.0, range.1)
    );
}

pub async fn block_resent_through_another_device_is_not_duplicated(s: &Stores) {
    // A gateway swap mid-stream resends the unacked block from the new device: the
    // points are the same patient at the same times.
    let p = patient_id();
    let first = block(&p, &device_id(), 7, T0, 500, 1, 100);
    let again = block(&p, &device_id(), 7, T0, 500, 1, 100);
    s.samples.write(&[first]).await.expect("write");
    s.samples
        .write(std::slice::from_ref(&again))
        .await
        .expect("resend");
    assert_eq!(
        s.samples
            .count_frames(&p, T0, again.end_ns())
            .await
            .expect("count"),
        100
    );
}

pub async fn counts_and_frames_respect_the_half_open_range(s: &Stores) {
    let (p, d) = (patient_id(), device_id());
    // Two adjacent one-second blocks at 250 Hz (a frame every 4 ms).
    let a = block(&p, &d, 1, T0, 250, 1, 250);
    let b = block(&p, &d, 2, a.end_ns(), 250, 1, 250);
    s.samples
        .write(&[a.clone(), b.clone()])
        .await
        .expect("write");

    let cases = [
        // Whole blocks.
        (a.start_ns, b.end_ns(), 500),
        (a.start_ns, a.end_ns(), 250),
        // `to` is exclusive: a range ending on a frame's time leaves that frame out.
        (a.time_of(10), a.time_of(20), 10),
        // `from` is inclusive, and a bound between two frames cuts cleanly.
        (a.time_of(10) + 1, a.time_of(20) + 1, 10),
        // A range cutting both blocks.
        (a.time_of(240), b.time_of(5), 15),
        // Nothing before the first or after the last frame.
        (T0 - NANOS_PER_SEC, a.start_ns, 0),
        (b.end_ns(), b.end_ns() + NANOS_PER_SEC, 0),
        // The last frame alone.
        (b.time_of(249), b.end_ns(), 1),
    ];
    for (from, to, expected) in cases {
        let count = s.samples.count_frames(&p, from, to).await.expect("count");
        assert_eq!(count, expected, "count_frames in [{from}, {to})");
        let frames = s.samples.frames(&p, from, to).await.expect("frames");
        assert_eq!(
            frames,
            expected_frames(&[&a, &b], from, to),
            "frames in [{from}, {to})"
        );
        assert_eq!(frames.len() as u64, expected);
    }
}

pub async fn counts_and_frames_are_isolated_per_patient(s: &Stores) {
    let (p1, p2, d) = (patient_id(), patient_id(), device_id());
    let b1 = block(&p1, &d, 1, T0, 250, 2, 100);
    let b2 = block(&p2, &d, 1, T0, 250, 2, 40);
    s.samples
        .write(&[b1.clone(), b2.clone()])
        .await
        .expect("write");
    let to = T0 + NANOS_PER_SEC;
    assert_eq!(
        s.samples.count_frames(&p1, T0, to).await.expect("count"),
        100
    );
    assert_eq!(
        s.samples.count_frames(&p2, T0, to).await.expect("count"),
        40
    );
    assert_eq!(
        s.samples.frames(&p2, T0, to).await.expect("frames"),
        expected_frames(&[&b2], T0, to)
    );
    let stranger = patient_id();
    assert_eq!(
        s.samples
            .count_frames(&stranger, T0, to)
            .await
            .expect("count"),
        0
    );
    assert!(
        s.samples
            .frames(&stranger, T0, to)
            .await
            .expect("frames")
            .is_empty()
    );
}

pub async fn frames_round_trip_two_leads_in_time_order(s: &Stores) {
    let (p, d) = (patient_id(), device_id());
    let mut early = block(&p, &d, 1, T0, 360, 2, 360);
    // The extremes of i16 must survive every encoding on the way.
    early.samples_uv[0] = i16::MIN;
    early.samples_uv[1] = i16::MAX;
    early.samples_uv[2] = 0;
    let late = block(&p, &d, 2, early.end_ns(), 360, 2, 360);
    // Written newest first: reads still come back in time order.
    s.samples
        .write(&[late.clone(), early.clone()])
        .await
        .expect("write");
    let frames = s
        .samples
        .frames(&p, T0, late.end_ns())
        .await
        .expect("frames");
    assert_eq!(frames.len(), 720);
    assert_eq!(frames[0], (T0, vec![i16::MIN, i16::MAX]));
    assert_eq!(frames[1].1[0], 0);
    assert_eq!(frames, expected_frames(&[&early, &late], T0, late.end_ns()));
}

pub async fn an_empty_or_inverted_range_holds_nothing(s: &Stores) {
    let (p, d) = (patient_id(), device_id());
    let b = block(&p, &d, 1, T0, 250, 1, 50);
    s.samples
        .write(std::slice::from_ref(&b))
        .await
        .expect("write");
    s.samples.write(&[]).await.expect("writing nothing is fine");
    assert_eq!(s.samples.count_frames(&p, T0, T0).await.expect("count"), 0);
    assert_eq!(
        s.samples
            .count_frames(&p, b.end_ns(), T0)
            .await
            .expect("count"),
        0
    );
    assert!(
        s.samples
            .frames(&p, b.end_ns(), T0)
            .await
            .expect("frames")
            .is_empty()
    );
}

pub async fn large_writes_span_batches_and_read_back_whole(s: &Stores) {
    // 24,000 frames in one call: several write batches and several query pages.
    let (p, d) = (patient_id(), device_id());
    let blocks: Vec<_> = (0..12)
        .map(|i| block(&p, &d, i, T0 + i as i64 * 4 * NANOS_PER_SEC, 500, 2, 2_000))
        .collect();
    s.samples.write(&blocks).await.expect("write");
    let end = blocks[11].end_ns();
    assert_eq!(
        s.samples.count_frames(&p, T0, end).await.expect("count"),
        24_000
    );
    let refs: Vec<&_> = blocks.iter().collect();
    assert_eq!(
        s.samples.frames(&p, T0, end).await.expect("frames"),
        expected_frames(&refs, T0, end)
    );
}

pub async fn concurrent_writes_of_many_patients_are_each_stored_when_they_return(s: &Stores) {
    // Ingest's writer runs several batches at once; the embedded store commits those
    // that meet in one transaction. Each call must still return only once its own blocks
    // are readable.
    let d = device_id();
    let patients: Vec<_> = (0..24).map(|_| patient_id()).collect();
    let writes = patients.iter().enumerate().map(|(i, p)| {
        let blocks = [
            block(p, &d, 1, T0, 250, 1, 60 + i),
            block(p, &d, 2, T0 + NANOS_PER_SEC, 250, 1, 60 + i),
        ];
        async move {
            s.samples.write(&blocks).await.expect("write");
            let stored = s
                .samples
                .count_frames(p, T0, T0 + 2 * NANOS_PER_SEC)
                .await
                .expect("count");
            assert_eq!(stored, 2 * (60 + i) as u64, "patient {i}");
        }
    });
    futures::future::join_all(writes).await;
}

pub async fn a_longer_block_written_later_is_found_from_inside_it(s: &Stores) {
    // Reads bound their scan by the patient's longest block: a block longer than every
    // earlier one must still be found by a range that starts in its middle.
    let (p, d) = (patient_id(), device_id());
    let short = block(&p, &d, 1, T0, 250, 1, 25);
    s.samples.write(&[short]).await.expect("write");
    let long = block(&p, &d, 2, T0 + 10 * NANOS_PER_SEC, 250, 1, 2_500);
    s.samples
        .write(std::slice::from_ref(&long))
        .await
        .expect("write");
    let from = long.time_of(2_000);
    assert_eq!(
        s.samples
            .count_frames(&p, from, long.end_ns())
            .await
            .expect("count"),
        500
    );
    assert_eq!(
        s.samples
            .frames(&p, from, long.end_ns())
            .await
            .expect("frames"),
        expected_frames(&[&long], from, long.end_ns())
    );
}
