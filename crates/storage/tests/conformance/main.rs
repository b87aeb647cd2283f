//! One conformance suite for every storage backend: the same behaviour functions run
//! against the embedded SQLite file and against the servers (InfluxDB + MongoDB), so a
//! service cannot tell which one it was given.
//!
//! The server half needs CW_TEST_INFLUX_URL and CW_TEST_MONGO_URI (`scripts/test`
//! starts the servers and sets them); without them those tests fail, never skip.

mod alert_batch;
mod alert_episode;
mod alert_escalation;
mod alert_pages;
mod alert_snooze;
mod alert_triage;
mod alerts;
mod audit;
mod audit_tamper;
mod backends;
mod credentials;
mod device_register;
mod directory;
mod embedded_encryption;
mod embedded_file;
mod embedded_retention;
mod fixtures;
mod influx_auth;
mod influx_lifecycle;
mod influx_nodes;
mod influx_wire;
mod mongo_audit_replicas;
mod mongo_two_writes;
mod news2;
mod outbox;
mod outbox_batch;
mod outbox_cas;
mod people;
mod policies;
mod record_expiry;
mod replay_guard;
mod report_days;
mod samples;
mod shard_leases;
mod vitals;
mod watchdog_probes;

/// Instantiates each behaviour once per backend: `embedded::<name>` and
/// `servers::<name>`, each on a fresh, private store; the sample behaviours also as
/// `two_influx_nodes::<name>`, on samples spread over two InfluxDB nodes by shard.
macro_rules! conformance {
    (
        samples { $($smodule:ident :: $sname:ident),* $(,)? }
        records { $($module:ident :: $name:ident),* $(,)? }
    ) => {
        mod embedded {
            $(
                #[tokio::test]
                async fn $sname() {
                    let backend = crate::backends::Backend::embedded().await;
                    crate::$smodule::$sname(&backend.stores).await;
                }
            )*
            $(
                #[tokio::test]
                async fn $name() {
                    let backend = crate::backends::Backend::embedded().await;
                    crate::$module::$name(&backend.stores).await;
                }
            )*
        }
        mod servers {
            $(
                #[tokio::test]
                async fn $sname() {
                    let backend = crate::backends::Backend::servers().await;
                    crate::$smodule::$sname(&backend.stores).await;
                }
            )*
            $(
                #[tokio::test]
                async fn $name() {
                    let backend = crate::backends::Backend::servers().await;
                    crate::$module::$name(&backend.stores).await;
                }
            )*
        }
        mod two_influx_nodes {
            $(
                #[tokio::test]
                async fn $sname() {
                    let backend = crate::backends::Backend::two_influx_nodes().await;
                    crate::$smodule::$sname(&backend.stores).await;
                }
            )*
        }
    };
}

conformance! {
    samples {
    samples::resent_block_is_idempotent,
    samples::block_resent_through_another_device_is_not_duplicated,
    samples::counts_and_frames_respect_the_half_open_range,
    samples::counts_and_frames_are_isolated_per_patient,
    samples::frames_round_trip_two_leads_in_time_order,
    samples::an_empty_or_inverted_range_holds_nothing,
    samples::large_writes_span_batches_and_read_back_whole,
    samples::concurrent_writes_of_many_patients_are_each_stored_when_they_return,
    samples::a_longer_block_written_later_is_found_from_inside_it,
    vitals::readings_and_statuses_round_trip_in_time_order,
    vitals::a_resent_reading_overwrites_and_a_later_status_drops_the_value,
    vitals::vitals_respect_the_half_open_range_and_the_patient,
    vitals::many_readings_read_back_whole_across_pages,
    news2::scores_round_trip_with_their_components_in_time_order,
    news2::a_rewritten_score_overwrites_and_ranges_are_half_open_per_patient,
    }
    records {
    alerts::second_open_alert_for_same_patient_and_rule_returns_the_first,
    alerts::other_rules_and_patients_open_independently,
    alerts::after_resolve_a_new_alert_can_open,
    alerts::alerts_resolved_since_lists_the_ends_from_then_on_in_order,
    alerts::retried_open_of_the_same_alert_is_not_a_duplicate,
    alerts::racing_opens_for_one_key_create_exactly_one_alert,
    alerts::acknowledge_keeps_the_first_ack,
    alerts::acknowledging_a_resolved_alert_keeps_it_resolved,
    alerts::resolving_twice_keeps_the_first_resolution,
    alerts::open_alerts_lists_firing_and_acknowledged_not_resolved,
    alerts::alerts_for_patients_filters_by_patient_and_state_newest_first_with_limit,
    alerts::unknown_alert_is_not_found,
    alert_batch::a_batch_opens_each_alert_and_a_key_already_open_returns_its_holder,
    alert_batch::two_alerts_for_one_key_in_a_batch_open_only_the_first,
    alert_batch::an_empty_batch_opens_nothing,
    alert_snooze::a_snooze_is_stored_on_a_firing_alert_and_replaced_by_the_next,
    alert_snooze::an_acknowledged_alert_is_not_snoozed,
    alert_escalation::an_escalation_is_stored_on_a_firing_alert_only,
    alert_triage::a_verdict_is_stored_replaced_and_kept_through_ack_and_resolve,
    alert_triage::a_resolved_alert_takes_a_verdict_and_an_unknown_one_is_not_found,
    alert_episode::an_open_alert_records_its_episode_and_a_resolved_one_keeps_it,
    outbox::claim_delivery_twice_with_the_same_key_conflicts,
    outbox_batch::a_claim_batch_claims_new_keys_and_conflicts_on_claimed_ones,
    outbox_batch::an_update_batch_changes_claimed_rows_and_misses_unclaimed_ones,
    outbox::update_delivery_changes_status_and_provider_id,
    outbox_cas::two_racing_claimers_of_one_retry_exactly_one_wins,
    outbox_cas::a_write_from_a_stale_snapshot_conflicts_and_changes_nothing,
    outbox_cas::a_batch_reports_a_stale_row_and_stores_the_others,
    outbox::update_of_an_unclaimed_delivery_is_not_found,
    outbox::deliveries_of_several_alerts_come_in_one_read_by_alert,
    policies::put_policy_increments_version,
    policies::policy_of_unknown_patient_is_not_found,
    policies::all_policies_returns_the_current_version_of_each_patient,
    policies::policy_history_lists_every_version_newest_first_within_the_limit,
    policies::rhythm_and_technical_rules_and_their_alerts_round_trip,
    people::device_by_token_hash_finds_the_device,
    people::device_by_cert_sha256_finds_the_device_and_list_devices_lists_all,
    people::patients_of_lists_the_doctors_patients,
    people::users_round_trip_and_unknown_ones_are_not_found,
    people::a_disabled_user_reads_back_disabled_and_enabling_clears_it,
    people::users_lists_every_user_record_by_id,
    device_register::a_registered_device_is_stored_and_listed_on_its_patient_once,
    device_register::registering_for_an_unknown_patient_stores_nothing,
    audit::appended_events_form_a_chain_that_verifies,
    audit::concurrent_appends_take_distinct_seqs_and_keep_the_chain_intact,
    audit::latest_audit_finds_the_newest_allowed_grant_in_time,
    audit::archived_events_leave_the_live_log_and_verify_with_it_as_one_chain,
    directory::patient_by_mrn_hash_finds_only_that_patient,
    alert_pages::pages_cover_every_alert_once_newest_first_and_filter,
    credentials::attempts_lock_a_login_at_the_threshold_and_success_clears_them,
    credentials::racing_attempts_admit_no_more_than_the_threshold,
    credentials::a_refresh_token_is_fresh_once_and_revocation_covers_its_family,
    credentials::revoking_a_users_refresh_tokens_spares_other_users,
    credentials::login_roles_lists_every_login_by_user,
    replay_guard::a_request_id_is_fresh_once_and_a_replay_is_refused,
    replay_guard::racing_uses_of_one_request_id_let_exactly_one_win,
    replay_guard::ids_used_before_the_cut_are_forgotten_and_later_ones_still_refused,
    shard_leases::a_free_shard_is_claimed_renewed_by_its_owner_and_refused_to_others,
    shard_leases::an_expired_lease_is_taken_over_with_a_higher_epoch_and_the_old_owner_loses_it,
    shard_leases::racing_claims_of_a_free_shard_let_exactly_one_engine_win,
    shard_leases::a_released_lease_is_free_at_once_and_a_stale_release_changes_nothing,
    shard_leases::live_engines_lists_only_fresh_heartbeats,
    shard_leases::engines_lists_every_heartbeat_with_its_time_and_pin,
    report_days::days_round_trip_replace_and_read_by_patient_and_range,
    watchdog_probes::a_probe_is_pending_until_answered_once_and_reads_back_its_alert,
    watchdog_probes::a_new_round_replaces_the_old_and_a_late_answer_of_the_old_changes_nothing,
    watchdog_probes::a_probe_past_its_wait_is_no_longer_pending,
    }
}
