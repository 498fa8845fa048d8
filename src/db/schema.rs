//! The portable table definitions shared by every backend. Written by hand (not by
//! `diesel print-schema`) because the types must mean the same on each: BigInt ids, Text for
//! enums, UTC Timestamps, Dates.

diesel::table! {
    clinics (id) {
        id -> BigInt,
        name -> Text,
        timezone -> Text,
        address -> Nullable<Text>,
        phone -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    users (id) {
        id -> BigInt,
        clinic_id -> BigInt,
        email -> Text,
        password_hash -> Text,
        name -> Text,
        role -> Text,
        patient_id -> Nullable<BigInt>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        disabled_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    doctors (id) {
        id -> BigInt,
        clinic_id -> BigInt,
        user_id -> Nullable<BigInt>,
        name -> Text,
        specialty -> Text,
        license_number -> Nullable<Text>,
        email -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        search_text -> Text,
    }
}

diesel::table! {
    patients (id) {
        id -> BigInt,
        clinic_id -> BigInt,
        primary_doctor_id -> Nullable<BigInt>,
        name -> Text,
        email -> Text,
        phone -> Nullable<Text>,
        blood_group -> Nullable<Text>,
        date_of_birth -> Nullable<Text>,
        internal_notes -> Nullable<Text>,
        search_text -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        deleted_at -> Nullable<Timestamp>,
        phone_index -> Nullable<Text>,
    }
}

diesel::table! {
    appointments (id) {
        id -> BigInt,
        clinic_id -> BigInt,
        patient_id -> BigInt,
        doctor_id -> BigInt,
        scheduled_at -> Timestamp,
        ends_at -> Timestamp,
        duration_minutes -> Integer,
        status -> Text,
        reason -> Nullable<Text>,
        notes -> Nullable<Text>,
        cancellation_reason -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    prescriptions (id) {
        id -> BigInt,
        clinic_id -> BigInt,
        patient_id -> BigInt,
        prescriber_id -> BigInt,
        appointment_id -> Nullable<BigInt>,
        medication -> Text,
        dosage -> Text,
        frequency -> Text,
        route -> Text,
        start_date -> Date,
        end_date -> Nullable<Date>,
        refills -> Integer,
        status -> Text,
        discontinued_reason -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    clinic_patient_counts (clinic_id) {
        clinic_id -> BigInt,
        live_patients -> BigInt,
    }
}

diesel::table! {
    sessions (id) {
        id -> BigInt,
        user_id -> BigInt,
        clinic_id -> BigInt,
        generation -> BigInt,
        refresh_hash -> Text,
        previous_hash -> Nullable<Text>,
        rotated_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        last_used_at -> Timestamp,
        expires_at -> Timestamp,
        client_ip -> Text,
        user_agent -> Nullable<Text>,
        revoked_at -> Nullable<Timestamp>,
        revoked_reason -> Nullable<Text>,
    }
}

diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(users -> clinics (clinic_id));
diesel::joinable!(doctors -> clinics (clinic_id));
diesel::joinable!(patients -> clinics (clinic_id));
diesel::joinable!(patients -> doctors (primary_doctor_id));

diesel::joinable!(appointments -> patients (patient_id));
diesel::joinable!(appointments -> doctors (doctor_id));
diesel::joinable!(prescriptions -> patients (patient_id));
diesel::joinable!(prescriptions -> doctors (prescriber_id));
diesel::joinable!(prescriptions -> appointments (appointment_id));

diesel::allow_tables_to_appear_in_same_query!(
    clinics,
    users,
    doctors,
    patients,
    appointments,
    prescriptions,
    clinic_patient_counts,
    sessions
);

diesel::table! {
    audit_events (id) {
        id -> BigInt,
        occurred_at -> Timestamp,
        clinic_id -> BigInt,
        actor_id -> BigInt,
        actor_email -> Text,
        actor_role -> Text,
        action -> Text,
        entity_type -> Text,
        entity_ids -> Text,
        field -> Nullable<Text>,
        outcome -> Text,
        request_id -> Text,
        client_ip -> Text,
        patient_ids -> Text,
        group_id -> BigInt,
    }
}

diesel::table! {
    audit_event_patients (patient_id, group_id) {
        patient_id -> BigInt,
        group_id -> BigInt,
    }
}

diesel::allow_tables_to_appear_in_same_query!(audit_events, audit_event_patients);

diesel::table! {
    background_jobs (id) {
        id -> BigInt,
        clinic_id -> BigInt,
        requested_by -> BigInt,
        kind -> Text,
        status -> Text,
        progress -> Integer,
        attempts -> Integer,
        error -> Nullable<Text>,
        result -> Nullable<Text>,
        created_at -> Timestamp,
        started_at -> Nullable<Timestamp>,
        finished_at -> Nullable<Timestamp>,
        payload -> Nullable<Text>,
        run_at -> Nullable<Timestamp>,
        dedupe_key -> Nullable<Text>,
    }
}

diesel::table! {
    /// Tables whose `search_text` keys are stale after a change of `core::text::fold`.
    search_key_rebuilds (target) {
        target -> Text,
    }
}

diesel::table! {
    /// Tables with values not yet sealed (`core::sealing`): `migrate` seals them.
    seal_rewrites (target) {
        target -> Text,
    }
}
diesel::table! {
    idempotency_keys (clinic_id, user_id, idempotency_key) {
        clinic_id -> BigInt,
        user_id -> BigInt,
        idempotency_key -> Text,
        fingerprint -> Text,
        status -> Nullable<Integer>,
        content_type -> Nullable<Text>,
        body -> Nullable<Text>,
        created_at -> Timestamp,
        completed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    /// Patients' photos and documents; the bytes are in the file store (`storage`).
    patient_files (id) {
        id -> BigInt,
        clinic_id -> BigInt,
        patient_id -> BigInt,
        kind -> Text,
        status -> Text,
        name -> Text,
        content_type -> Text,
        byte_size -> BigInt,
        width -> Nullable<Integer>,
        height -> Nullable<Integer>,
        pages -> Nullable<Integer>,
        object_key -> Text,
        reason -> Nullable<Text>,
        uploaded_by -> BigInt,
        created_at -> Timestamp,
        purged_at -> Nullable<Timestamp>,
    }
}
