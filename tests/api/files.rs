//! Patients' photos and documents as staff, patients and attackers meet them over HTTP: an
//! upload asked for, its bytes sent to the link, processing in the background, a download
//! through a short-lived link; the declared type never trusted, hostile images refused while
//! the worker keeps going, another clinic's or patient's file never served.
use std::io::Cursor;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use clinicgraph::core::auth::Role;
use image::{ImageDecoder, ImageEncoder as _, ImageFormat, RgbImage};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestResponse, patient_input};
use crate::on_every_backend;

const REQUEST: &str = "mutation($i: RequestUploadInput!) {
    requestUpload(input: $i) { url headers { name value } expiresAt file { id status kind } }
}";
const COMPLETE: &str = "mutation($id: ID!) { completeUpload(id: $id) { id status } }";
const FILE: &str = "query($id: ID!) { patientFile(id: $id) {
    id kind status name contentType byteSize width height pages reason
    uploadedBy url
} }";
const PHOTO: &str = "query($id: ID!) { patient(id: $id) {
    photo { id width height thumb: url(size: THUMB) medium: url(size: MEDIUM) original: url }
} }";
const DOCUMENTS: &str = "query($id: ID!) { patient(id: $id) {
    documents(first: 10) { totalCount nodes { id name status pages contentType url } }
} }";

/// A JPEG of `width` × `height`, its left half red and its right half blue, carrying an EXIF
/// block with `orientation` and a GPS position.
fn jpeg_with_exif(width: u32, height: u32, orientation: u16) -> Vec<u8> {
    let image = RgbImage::from_fn(width, height, |x, _| {
        if x < width / 2 {
            image::Rgb([255, 0, 0])
        } else {
            image::Rgb([0, 0, 255])
        }
    });
    let mut plain = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut plain), ImageFormat::Jpeg)
        .expect("jpeg");
    // TIFF, little-endian: IFD0 with Orientation and a pointer to the GPS IFD, which holds
    // GPSLatitudeRef "N" and GPSLatitude 51/1 30/1 0/1.
    let mut tiff: Vec<u8> = b"II*\0".to_vec();
    tiff.extend(8_u32.to_le_bytes());
    tiff.extend(2_u16.to_le_bytes());
    tiff.extend([0x12, 0x01, 3, 0]); // Orientation, SHORT
    tiff.extend(1_u32.to_le_bytes());
    tiff.extend(u32::from(orientation).to_le_bytes());
    let gps_ifd = 8 + 2 + 2 * 12 + 4;
    tiff.extend([0x25, 0x88, 4, 0]); // GPSInfo, LONG
    tiff.extend(1_u32.to_le_bytes());
    tiff.extend((gps_ifd as u32).to_le_bytes());
    tiff.extend(0_u32.to_le_bytes());
    let rationals = gps_ifd + 2 + 2 * 12 + 4;
    tiff.extend(2_u16.to_le_bytes());
    tiff.extend([0x01, 0x00, 2, 0]); // GPSLatitudeRef, ASCII
    tiff.extend(2_u32.to_le_bytes());
    tiff.extend(*b"N\0\0\0");
    tiff.extend([0x02, 0x00, 5, 0]); // GPSLatitude, RATIONAL × 3
    tiff.extend(3_u32.to_le_bytes());
    tiff.extend((rationals as u32).to_le_bytes());
    tiff.extend(0_u32.to_le_bytes());
    for (numerator, denominator) in [(51_u32, 1_u32), (30, 1), (0, 1)] {
        tiff.extend(numerator.to_le_bytes());
        tiff.extend(denominator.to_le_bytes());
    }
    let mut segment = b"Exif\0\0".to_vec();
    segment.extend(tiff);
    let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE1];
    jpeg.extend(
        u16::try_from(segment.len() + 2)
            .expect("short")
            .to_be_bytes(),
    );
    jpeg.extend(segment);
    jpeg.extend(&plain[2..]);
    jpeg
}

/// A PDF of `pages` A4 pages, written out by hand (with a correct cross-reference table).
fn pdf(pages: usize) -> Vec<u8> {
    let mut objects = vec![
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        format!(
            "<< /Type /Pages /Kids [{}] /Count {pages} /MediaBox [0 0 595 842] >>",
            (0..pages)
                .map(|i| format!("{} 0 R", i + 3))
                .collect::<Vec<_>>()
                .join(" ")
        ),
    ];
    for _ in 0..pages {
        objects.push("<< /Type /Page /Parent 2 0 R >>".to_owned());
    }
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend(format!("{} 0 obj\n{object}\nendobj\n", i + 1).into_bytes());
    }
    let xref = out.len();
    out.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).into_bytes());
    for offset in offsets {
        out.extend(format!("{offset:010} 00000 n \n").into_bytes());
    }
    out.extend(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .into_bytes(),
    );
    out
}

/// A PNG that claims 50,000 × 50,000 pixels: a decoder that believed it would ask for 7.5 GB.
fn pixel_flood_png() -> Vec<u8> {
    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new(&mut png)
        .write_image(&[0, 0, 0], 1, 1, image::ExtendedColorType::Rgb8)
        .expect("png");
    // IHDR's width and height sit at bytes 16..24; its CRC at 29..33.
    png[16..20].copy_from_slice(&50_000_u32.to_be_bytes());
    png[20..24].copy_from_slice(&50_000_u32.to_be_bytes());
    let crc = crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    png
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFF_u32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

async fn put(app: &TestApp, url: &str, content_type: &str, bytes: Vec<u8>) -> TestResponse {
    app.send(
        Request::put(url)
            .header("content-type", content_type)
            .body(Body::from(bytes))
            .expect("request"),
    )
    .await
}

async fn get(app: &TestApp, url: &str) -> TestResponse {
    app.send(Request::get(url).body(Body::empty()).expect("request"))
        .await
}

/// Asks for an upload, sends the bytes and completes it; the file's id.
async fn upload(
    app: &TestApp,
    token: &str,
    patient: &str,
    kind: &str,
    name: &str,
    content_type: &str,
    bytes: Vec<u8>,
) -> String {
    let ticket = app
        .ok(
            token,
            REQUEST,
            json!({ "i": {
                "patientId": patient, "kind": kind, "name": name,
                "contentType": content_type, "byteSize": bytes.len()
            } }),
        )
        .await;
    let ticket = &ticket["requestUpload"];
    assert_eq!(ticket["file"]["status"], "AWAITING_UPLOAD");
    let url = ticket["url"].as_str().expect("url");
    let sent = put(app, url, content_type, bytes).await;
    assert_eq!(sent.status, 204, "{}", sent.text);
    let id = ticket["file"]["id"].as_str().expect("id").to_owned();
    let completed = app.ok(token, COMPLETE, json!({ "id": id })).await;
    assert_eq!(completed["completeUpload"]["status"], "PENDING");
    id
}

/// The file once processing has settled it (READY or REJECTED).
async fn settled(app: &TestApp, token: &str, id: &str) -> Value {
    let started = Instant::now();
    loop {
        let data = app.ok(token, FILE, json!({ "id": id })).await;
        let status = data["patientFile"]["status"].as_str().unwrap_or_default();
        if status == "READY" || status == "REJECTED" {
            return data["patientFile"].clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "file {id} still {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every byte the local store holds, file by file.
fn stored_files(app: &TestApp) -> Vec<Vec<u8>> {
    let mut found = Vec::new();
    let mut folders = vec![app.jobs_dir.path().join("files")];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).expect("files dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                folders.push(path);
            } else {
                found.push(std::fs::read(&path).expect("file"));
            }
        }
    }
    found
}

fn holds(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

async fn a_photo_comes_out_upright_without_exif_in_three_sizes(app: TestApp) {
    let nurse = app.token(Role::Nurse).await;
    let patient = app
        .create_patient(
            &nurse,
            patient_input("Ζωή Φωτογραφία", "zoi.photo@example.gr"),
        )
        .await;
    let original = jpeg_with_exif(600, 300, 6);
    assert!(holds(&original, b"Exif") && holds(&original, b"N\0"));
    let id = upload(
        &app,
        &nurse,
        &patient,
        "PHOTO",
        "front desk.jpg",
        "image/jpeg",
        original,
    )
    .await;
    let file = settled(&app, &nurse, &id).await;
    assert_eq!(file["status"], "READY", "{file}");
    // Orientation 6 turns it a quarter clockwise: 600 × 300 becomes 300 × 600.
    assert_eq!(
        (file["width"].as_i64(), file["height"].as_i64()),
        (Some(300), Some(600))
    );
    assert_eq!(file["contentType"], "image/jpeg");
    assert_eq!(file["name"], "front desk.jpg");

    let photo = app.ok(&nurse, PHOTO, json!({ "id": patient })).await;
    let photo = &photo["patient"]["photo"];
    assert_eq!(photo["id"], id.as_str());
    for (field, longest) in [("thumb", 128), ("medium", 512), ("original", 600)] {
        let url = photo[field].as_str().expect("url");
        let response = get(&app, url).await;
        assert_eq!(response.status, 200, "{field}: {}", response.text);
        assert_eq!(response.headers["content-type"], "image/jpeg");
        assert_eq!(response.headers["cache-control"], "no-store");
        assert_eq!(response.headers["x-content-type-options"], "nosniff");
        assert!(
            response.headers["content-disposition"]
                .to_str()
                .expect("ascii")
                .starts_with("inline; filename=\"front desk.jpg\""),
        );
        assert!(!holds(&response.bytes, b"Exif"), "{field} keeps EXIF");
        let decoder =
            image::codecs::jpeg::JpegDecoder::new(Cursor::new(&response.bytes)).expect("a JPEG");
        let (width, height) = decoder.dimensions();
        assert_eq!(width.max(height), longest, "{field}");
        assert_eq!(height, width * 2, "{field} is upright");
        let pixels = image::load_from_memory(&response.bytes)
            .expect("decodes")
            .into_rgb8();
        // The red half is on top now, the blue one below.
        let top = pixels.get_pixel(width / 2, height / 8);
        let bottom = pixels.get_pixel(width / 2, height * 7 / 8);
        assert!(top[0] > 200 && top[2] < 60, "{field} top {top:?}");
        assert!(
            bottom[2] > 200 && bottom[0] < 60,
            "{field} bottom {bottom:?}"
        );
    }
    // The local store holds the photo sealed: no JPEG, no EXIF, no name in any file.
    let stored = stored_files(&app);
    assert_eq!(stored.len(), 3, "three sizes, the upload gone");
    for contents in &stored {
        assert!(contents.starts_with(b"cg1b"));
        assert!(!holds(contents, b"JFIF") && !holds(contents, b"Exif"));
    }
}

async fn a_document_is_measured_listed_and_downloaded_with_its_name(app: TestApp) {
    let doctor = app.token(Role::Doctor).await;
    let patient = app
        .create_patient(
            &doctor,
            patient_input("Νίκος Έγγραφο", "nikos.doc@example.gr"),
        )
        .await;
    let name = "Παραπεμπτικό καρδιολόγου.pdf";
    let id = upload(
        &app,
        &doctor,
        &patient,
        "DOCUMENT",
        name,
        "application/pdf",
        pdf(3),
    )
    .await;
    let file = settled(&app, &doctor, &id).await;
    assert_eq!(file["status"], "READY", "{file}");
    assert_eq!(file["pages"], 3);
    assert_eq!(
        (file["width"].as_i64(), file["height"].as_i64()),
        (Some(595), Some(842))
    );
    assert_eq!(file["contentType"], "application/pdf");

    let listed = app.ok(&doctor, DOCUMENTS, json!({ "id": patient })).await;
    let documents = &listed["patient"]["documents"];
    assert_eq!(documents["totalCount"], 1);
    assert_eq!(documents["nodes"][0]["name"], name);
    let url = documents["nodes"][0]["url"].as_str().expect("url");
    let response = get(&app, url).await;
    assert_eq!(response.status, 200, "{}", response.text);
    assert_eq!(response.bytes, pdf(3));
    assert_eq!(response.headers["content-type"], "application/pdf");
    let disposition = response.headers["content-disposition"]
        .to_str()
        .expect("ascii");
    assert!(disposition.starts_with("attachment; "), "{disposition}");
    assert!(
        disposition.ends_with("filename*=UTF-8''%CE%A0%CE%B1%CF%81%CE%B1%CF%80%CE%B5%CE%BC%CF%80%CF%84%CE%B9%CE%BA%CF%8C%20%CE%BA%CE%B1%CF%81%CE%B4%CE%B9%CE%BF%CE%BB%CF%8C%CE%B3%CE%BF%CF%85%2Epdf"),
        "{disposition}"
    );

    // Every download is in the audit trail, with the file and its patient.
    app.services.audit_writer.flush().await;
    let admin = app.token(Role::Admin).await;
    let events = app
        .ok(
            &admin,
            "query { auditEvents(filter: { action: DOWNLOAD_FILE }, first: 5) {
                nodes { entityType entityIds patientIds outcome actor { email } } } }",
            json!({}),
        )
        .await;
    let nodes = events["auditEvents"]["nodes"].as_array().expect("events");
    assert_eq!(nodes.len(), 1, "{events}");
    assert_eq!(nodes[0]["entityType"], "PATIENT_FILE");
    assert_eq!(nodes[0]["entityIds"][0], id.as_str());
    assert_eq!(nodes[0]["patientIds"][0], patient.as_str());
    assert_eq!(nodes[0]["outcome"], "ALLOWED");
    assert_eq!(nodes[0]["actor"]["email"], "doctor@demo.clinic");
}

async fn hostile_and_mislabelled_files_are_rejected_and_the_worker_goes_on(app: TestApp) {
    let nurse = app.token(Role::Nurse).await;
    let patient = app
        .create_patient(
            &nurse,
            patient_input("Hostile Files", "hostile.files@example.com"),
        )
        .await;
    // Refused before any byte is sent: a type no kind takes, a size over the limit.
    let refused = app
        .gql(
            Some(&nurse),
            REQUEST,
            json!({ "i": { "patientId": patient, "kind": "PHOTO", "name": "x.svg",
                "contentType": "image/svg+xml", "byteSize": 100 } }),
        )
        .await;
    assert_eq!(
        refused.code(),
        Some("UNSUPPORTED_FILE_TYPE"),
        "{}",
        refused.text
    );
    let refused = app
        .gql(
            Some(&nurse),
            REQUEST,
            json!({ "i": { "patientId": patient, "kind": "PHOTO", "name": "huge.jpg",
                "contentType": "image/jpeg", "byteSize": 2_000_000 } }),
        )
        .await;
    assert_eq!(refused.code(), Some("FILE_TOO_LARGE"), "{}", refused.text);

    let mut truncated = jpeg_with_exif(300, 200, 1);
    truncated.truncate(truncated.len() / 2);
    let cases = [
        // Declared a JPEG photo, a PDF inside: the contents decide.
        ("PHOTO", "image/jpeg", pdf(1), "UNSUPPORTED_FILE_TYPE"),
        // Plain text as a document.
        (
            "DOCUMENT",
            "application/pdf",
            b"just some text, no PDF".to_vec(),
            "UNSUPPORTED_FILE_TYPE",
        ),
        ("PHOTO", "image/png", pixel_flood_png(), "FILE_TOO_LARGE"),
        ("PHOTO", "image/jpeg", truncated, "INVALID_FILE"),
        (
            "DOCUMENT",
            "application/pdf",
            b"%PDF-1.7\nnot really".to_vec(),
            "INVALID_FILE",
        ),
    ];
    for (kind, declared, bytes, code) in cases {
        let id = upload(&app, &nurse, &patient, kind, "suspect", declared, bytes).await;
        let file = settled(&app, &nurse, &id).await;
        assert_eq!(file["status"], "REJECTED", "{code}: {file}");
        let reason = file["reason"].as_str().expect("reason");
        assert!(reason.starts_with(&format!("{code}: ")), "{reason}");
        assert_eq!(file["url"], Value::Null);
    }
    // The worker is still there: a good photo after them is processed.
    let id = upload(
        &app,
        &nurse,
        &patient,
        "PHOTO",
        "ok.jpg",
        "image/jpeg",
        jpeg_with_exif(64, 64, 1),
    )
    .await;
    assert_eq!(settled(&app, &nurse, &id).await["status"], "READY");
    // Rejected uploads leave nothing behind.
    assert_eq!(stored_files(&app).len(), 3);

    // A body that is not the announced size is refused.
    let ticket = app
        .ok(
            &nurse,
            REQUEST,
            json!({ "i": { "patientId": patient, "kind": "PHOTO", "name": "short.jpg",
                "contentType": "image/jpeg", "byteSize": 1000 } }),
        )
        .await;
    let url = ticket["requestUpload"]["url"].as_str().expect("url");
    let sent = put(&app, url, "image/jpeg", vec![0xFF; 999]).await;
    assert_eq!(sent.status, 422, "{}", sent.text);
    assert_eq!(sent.code(), Some("FILE_TOO_LARGE"));
    // Completing it before the bytes arrived is refused.
    let id = ticket["requestUpload"]["file"]["id"].as_str().expect("id");
    let early = app.gql(Some(&nurse), COMPLETE, json!({ "id": id })).await;
    assert_eq!(early.code(), Some("UPLOAD_NOT_RECEIVED"), "{}", early.text);
}

/// A patient of `name` and `email` with a READY photo of `width` × `height` uploaded by
/// `token`: the patient's id, the file's id and its download link.
async fn patient_with_photo(
    app: &TestApp,
    token: &str,
    (name, email): (&str, &str),
    (width, height): (u32, u32),
) -> (String, String, String) {
    let patient = app.create_patient(token, patient_input(name, email)).await;
    let photo = jpeg_with_exif(width, height, 1);
    let id = upload(app, token, &patient, "PHOTO", "p.jpg", "image/jpeg", photo).await;
    assert_eq!(settled(app, token, &id).await["status"], "READY");
    let url = app.ok(token, FILE, json!({ "id": id })).await["patientFile"]["url"]
        .as_str()
        .expect("url")
        .to_owned();
    (patient, id, url)
}

async fn files_follow_the_patient_records_rules(app: TestApp) {
    let nurse = app.token(Role::Nurse).await;
    let (patient, id, url) = patient_with_photo(
        &app,
        &nurse,
        ("Private Photo", "private.photo@example.com"),
        (80, 60),
    )
    .await;

    // Another clinic's ADMIN: not found, however asked.
    let other = app.other_clinic_admin().await;
    for query in [FILE, "query($id: ID!) { node(id: $id) { id } }"] {
        let response = app.gql(Some(&other), query, json!({ "id": id })).await;
        assert_eq!(response.code(), Some("NOT_FOUND"), "{}", response.text);
    }
    // A PATIENT sees their own record's files only.
    let patient_token = app.token(Role::Patient).await;
    let response = app
        .gql(Some(&patient_token), FILE, json!({ "id": id }))
        .await;
    assert_eq!(response.code(), Some("NOT_FOUND"), "{}", response.text);
    let me = app
        .ok(&patient_token, "{ me { id patient { id } } }", json!({}))
        .await;
    let own = me["me"]["patient"]["id"]
        .as_str()
        .expect("own record")
        .to_owned();
    let own_photo = upload(
        &app,
        &nurse,
        &own,
        "PHOTO",
        "me.jpg",
        "image/jpeg",
        jpeg_with_exif(50, 50, 1),
    )
    .await;
    assert_eq!(settled(&app, &nurse, &own_photo).await["status"], "READY");
    let mine = app.ok(&patient_token, PHOTO, json!({ "id": own })).await;
    let link = mine["patient"]["photo"]["thumb"]
        .as_str()
        .expect("own photo's link");
    assert_eq!(get(&app, link).await.status, 200);
    // A PATIENT may not add files, not even to their own record.
    let refused = app
        .gql(
            Some(&patient_token),
            REQUEST,
            json!({ "i": { "patientId": patient, "kind": "PHOTO", "name": "x.jpg",
                "contentType": "image/jpeg", "byteSize": 10 } }),
        )
        .await;
    assert_eq!(refused.code(), Some("FORBIDDEN"), "{}", refused.text);

    // A link altered by one character, or for uploading, does not download.
    let token = url.rsplit('/').next().expect("token");
    let mut altered = token.to_owned();
    altered.insert(token.len() - 2, 'A');
    for bad in [
        format!("/files/{altered}"),
        format!("/files/upload/{token}"),
    ] {
        let response = if bad.starts_with("/files/upload/") {
            put(&app, &bad, "image/jpeg", vec![1, 2, 3]).await
        } else {
            get(&app, &bad).await
        };
        assert_eq!(response.status, 403, "{bad}: {}", response.text);
        assert_eq!(response.code(), Some("INVALID_LINK"));
    }
    // Once the patient is deleted, their files are gone with them, links included.
    let admin = app.token(Role::Admin).await;
    app.ok(
        &admin,
        "mutation($id: ID!) { deletePatient(id: $id) }",
        json!({ "id": patient }),
    )
    .await;
    let response = get(&app, &url).await;
    assert_eq!(response.status, 404, "{}", response.text);
    let response = app.gql(Some(&nurse), FILE, json!({ "id": id })).await;
    assert_eq!(response.code(), Some("NOT_FOUND"));

    // And an ADMIN has them erased from storage; the records stay for the trail.
    assert_eq!(stored_files(&app).len(), 6);
    let job = app
        .ok(
            &admin,
            "mutation($id: ID!) { purgePatientFiles(patientId: $id) { id } }",
            json!({ "id": patient }),
        )
        .await;
    let job_id = job["purgePatientFiles"]["id"]
        .as_str()
        .expect("job")
        .to_owned();
    let started = Instant::now();
    loop {
        let job = app
            .ok(
                &admin,
                "query($id: ID!) { job(id: $id) { status result } }",
                json!({ "id": job_id }),
            )
            .await;
        if job["job"]["status"] == "SUCCEEDED" {
            assert_eq!(job["job"]["result"]["purged"], 1);
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{job}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The other patient's photo stays.
    assert_eq!(stored_files(&app).len(), 3);
    // A live patient's files are not purged.
    let live = app
        .create_patient(
            &nurse,
            patient_input("Still Here", "still.here@example.com"),
        )
        .await;
    let refused = app
        .gql(
            Some(&admin),
            "mutation($id: ID!) { purgePatientFiles(patientId: $id) { id } }",
            json!({ "id": live }),
        )
        .await;
    assert_eq!(
        refused.code(),
        Some("INVALID_STATE_TRANSITION"),
        "{}",
        refused.text
    );
}

async fn a_link_expires(app: TestApp) {
    let nurse = app.token(Role::Nurse).await;
    let (_, _, url) = patient_with_photo(
        &app,
        &nurse,
        ("Short Link", "short.link@example.com"),
        (40, 40),
    )
    .await;
    assert_eq!(get(&app, &url).await.status, 200);
    tokio::time::sleep(Duration::from_secs(11)).await;
    let response = get(&app, &url).await;
    assert_eq!(response.status, 403, "{}", response.text);
    assert_eq!(response.code(), Some("INVALID_LINK"));
}

/// A page of patients shows each one's newest photo (read for the whole page at once), and none
/// for a patient without one.
async fn a_page_of_patients_shows_each_ones_newest_photo(app: TestApp) {
    let nurse = app.token(Role::Nurse).await;
    let (first, _, _) = patient_with_photo(
        &app,
        &nurse,
        ("Ηλίας Πρώτος", "ilias.page@example.gr"),
        (40, 20),
    )
    .await;
    let (second, older, _) = patient_with_photo(
        &app,
        &nurse,
        ("Μαρία Δεύτερη", "maria.page@example.gr"),
        (30, 30),
    )
    .await;
    let newer = upload(
        &app,
        &nurse,
        &second,
        "PHOTO",
        "newer.jpg",
        "image/jpeg",
        jpeg_with_exif(24, 48, 1),
    )
    .await;
    assert_eq!(settled(&app, &nurse, &newer).await["status"], "READY");
    let without = app
        .create_patient(
            &nurse,
            patient_input("Χωρίς Φωτογραφία", "none.page@example.gr"),
        )
        .await;
    let page = app
        .ok(
            &nurse,
            "{ patients(first: 100) { nodes { id photo { id width height } } } }",
            json!({}),
        )
        .await;
    let photo_of = |patient: &str| {
        page["patients"]["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .find(|node| node["id"] == patient)
            .map(|node| node["photo"].clone())
            .expect("the patient is listed")
    };
    assert_eq!(photo_of(&first)["width"], 40);
    assert_eq!(photo_of(&second)["id"], newer.as_str(), "not {older}");
    assert_eq!(
        (
            photo_of(&second)["width"].clone(),
            photo_of(&second)["height"].clone()
        ),
        (json!(24), json!(48))
    );
    assert_eq!(photo_of(&without), Value::Null);
}

// A photo may be at most 1 MB here, so that a larger one is cheap to announce.
on_every_backend!(env [("FILES_PHOTO_MAX_BYTES", "1000000")];
    a_photo_comes_out_upright_without_exif_in_three_sizes,
    a_document_is_measured_listed_and_downloaded_with_its_name,
    hostile_and_mislabelled_files_are_rejected_and_the_worker_goes_on,
    files_follow_the_patient_records_rules,
    a_page_of_patients_shows_each_ones_newest_photo,
);

mod expiry {
    use super::*;
    on_every_backend!(env [("FILES_URL_TTL_SECONDS", "10")]; a_link_expires);
}

/// Uploads asked for at once cannot pass the clinic's quota between them: of eight documents
/// of 300 bytes under a quota of 1,000, three are admitted.
async fn the_quota_holds_for_uploads_asked_for_at_once(app: TestApp) {
    let nurse = app.token(Role::Nurse).await;
    let patient = app
        .create_patient(
            &nurse,
            patient_input("Νίκος Όριο", "nikos.quota@example.gr"),
        )
        .await;
    let asks = (0..8).map(|n| {
        app.gql(
            Some(&nurse),
            REQUEST,
            json!({ "i": { "patientId": patient, "kind": "DOCUMENT", "name": format!("{n}.pdf"),
                "contentType": "application/pdf", "byteSize": 300 } }),
        )
    });
    let answers = futures_util::future::join_all(asks).await;
    let admitted = answers
        .iter()
        .filter(|answer| answer.body["data"]["requestUpload"]["file"]["id"].is_string())
        .count();
    let refused: Vec<_> = answers.iter().filter_map(|answer| answer.code()).collect();
    assert_eq!(admitted, 3, "{refused:?}");
    assert_eq!(refused, ["STORAGE_QUOTA_EXCEEDED"; 5]);
}

/// An upload asked for and never completed holds the quota only while it can still arrive
/// (its link's life and as long again); then the workers mark it REJECTED and erase what was
/// sent, and it can no longer be completed.
async fn an_upload_never_completed_expires_and_frees_its_quota(app: TestApp) {
    let nurse = app.token(Role::Nurse).await;
    let patient = app
        .create_patient(&nurse, patient_input("Άννα Λήξη", "anna.expiry@example.gr"))
        .await;
    let ask = |name: &str| {
        app.gql(
            Some(&nurse),
            REQUEST,
            json!({ "i": { "patientId": patient, "kind": "DOCUMENT", "name": name,
                "contentType": "application/pdf", "byteSize": 600 } }),
        )
    };
    let first = ask("sent.pdf").await;
    let ticket = &first.body["data"]["requestUpload"];
    let id = ticket["file"]["id"].as_str().expect("id").to_owned();
    // Its bytes arrive, but nobody completes it.
    let mut bytes = pdf(1);
    bytes.resize(600, b' ');
    let sent = put(
        &app,
        ticket["url"].as_str().expect("url"),
        "application/pdf",
        bytes,
    )
    .await;
    assert_eq!(sent.status, 204, "{}", sent.text);
    assert_eq!(stored_files(&app).len(), 1);
    assert_eq!(
        ask("second.pdf").await.code(),
        Some("STORAGE_QUOTA_EXCEEDED")
    );

    let started = Instant::now();
    let file = loop {
        let file = app.ok(&nurse, FILE, json!({ "id": id })).await["patientFile"].clone();
        if file["status"] != "AWAITING_UPLOAD" {
            break file;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "never expired: {file}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(file["status"], "REJECTED", "{file}");
    assert_eq!(file["reason"], "the upload was not completed in time");
    assert!(stored_files(&app).is_empty(), "what was sent is erased");
    let late = app.gql(Some(&nurse), COMPLETE, json!({ "id": id })).await;
    assert_eq!(late.code(), Some("UPLOAD_NOT_RECEIVED"), "{}", late.text);
    let third = ask("third.pdf").await;
    assert!(
        third.body["data"]["requestUpload"]["file"]["id"].is_string(),
        "{}",
        third.text
    );
}

mod quota {
    use super::*;
    on_every_backend!(env [("FILES_CLINIC_QUOTA_BYTES", "1000")];
        the_quota_holds_for_uploads_asked_for_at_once);
}

mod abandoned {
    use super::*;
    on_every_backend!(env [("FILES_CLINIC_QUOTA_BYTES", "1000"), ("FILES_URL_TTL_SECONDS", "10")];
        an_upload_never_completed_expires_and_frees_its_quota);
}

const UPLOAD_MULTIPART: &str = "mutation($p: ID!, $f: Upload!) {
    uploadPatientFile(patientId: $p, kind: PHOTO, file: $f) { id status name }
}";

/// A GraphQL multipart request (graphql-multipart-request-spec) uploading `bytes` as `$f`.
fn multipart_request(token: &str, patient: &str, bytes: &[u8], preflight: bool) -> Request<Body> {
    let boundary = "cg-test-boundary-7f3a";
    let operations = json!({ "query": UPLOAD_MULTIPART, "variables": { "p": patient, "f": null } });
    let mut body = Vec::new();
    for (name, value) in [
        ("operations", operations.to_string()),
        ("map", json!({ "0": ["variables.f"] }).to_string()),
    ] {
        body.extend(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .into_bytes(),
        );
    }
    body.extend(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"0\"; filename=\"Γραφείο.jpg\"\r\n\
             Content-Type: image/jpeg\r\n\r\n"
        )
        .into_bytes(),
    );
    body.extend(bytes);
    body.extend(format!("\r\n--{boundary}--\r\n").into_bytes());
    let mut request = Request::post("/graphql")
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .header("authorization", format!("Bearer {token}"));
    if preflight {
        request = request.header("graphql-preflight", "1");
    }
    request.body(Body::from(body)).expect("request")
}

async fn a_multipart_upload_needs_the_preflight_header_and_stays_small(app: TestApp) {
    let nurse = app.token(Role::Nurse).await;
    let patient = app
        .create_patient(
            &nurse,
            patient_input("Multipart Photo", "multipart.photo@example.com"),
        )
        .await;
    let photo = jpeg_with_exif(120, 90, 1);
    // Without a header a cross-site form cannot send: refused, nothing recorded.
    let refused = app
        .send(multipart_request(&nurse, &patient, &photo, false))
        .await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert_eq!(refused.code(), Some("PREFLIGHT_REQUIRED"));
    let sent = app
        .send(multipart_request(&nurse, &patient, &photo, true))
        .await;
    assert_eq!(sent.status, 200, "{}", sent.text);
    let file = &sent.body["data"]["uploadPatientFile"];
    assert_eq!(file["status"], "PENDING", "{}", sent.text);
    assert_eq!(file["name"], "Γραφείο.jpg");
    let id = file["id"].as_str().expect("id");
    assert_eq!(settled(&app, &nurse, id).await["status"], "READY");
    // Over FILES_MULTIPART_MAX_BYTES (here 64 KiB): refused as a whole.
    let large = vec![0xAB_u8; 70 * 1024];
    let refused = app
        .send(multipart_request(&nurse, &patient, &large, true))
        .await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert_eq!(refused.code(), Some("BAD_REQUEST"));
    // In a JSON body an `Upload` names no file: refused as input, nothing stored.
    for value in [
        json!(0),
        json!("a string"),
        json!("#__graphql_file__:x"),
        json!("#__graphql_file__:7"),
    ] {
        let refused = app
            .gql(
                Some(&nurse),
                UPLOAD_MULTIPART,
                json!({ "p": patient, "f": value }),
            )
            .await;
        let code = refused.code().unwrap_or_default().to_owned();
        assert!(
            [
                "VALIDATION_FAILED",
                "GRAPHQL_VALIDATION_FAILED",
                "BAD_USER_INPUT"
            ]
            .contains(&code.as_str()),
            "{value}: {}",
            refused.text
        );
    }
    // A patient's token may not use it.
    let patient_token = app.token(Role::Patient).await;
    let refused = app
        .send(multipart_request(&patient_token, &patient, &photo, true))
        .await;
    assert_eq!(
        refused.body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{}",
        refused.text
    );
}

mod multipart {
    use super::*;
    on_every_backend!(env [("FILES_MULTIPART_MAX_BYTES", "65536")];
        a_multipart_upload_needs_the_preflight_header_and_stays_small);
}

/// Both upload paths against a real S3-compatible server: the presigned PUT goes straight to
/// the bucket, with server-side encryption asked for by the headers its signature covers; the
/// processed sizes land under the configured prefix and the upload is deleted.
async fn uploads_to_s3(backend: crate::helpers::Backend) {
    use crate::helpers::s3::S3Server;
    let Some(s3) = S3Server::start("clinic-files").await else {
        return;
    };
    let env = s3.env("eu/prod");
    let mut overrides: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    overrides.push(("FILES_MULTIPART_MAX_BYTES", "1000000"));
    let Some(app) = TestApp::spawn_with(backend, &overrides).await else {
        return;
    };
    let nurse = app.token(Role::Nurse).await;
    let patient = app
        .create_patient(
            &nurse,
            patient_input("Σοφία Κάδος", "sofia.bucket@example.gr"),
        )
        .await;
    let photo = jpeg_with_exif(400, 200, 6);
    let ticket = app
        .ok(
            &nurse,
            REQUEST,
            json!({ "i": { "patientId": patient, "kind": "PHOTO", "name": "s3.jpg",
                "contentType": "image/jpeg", "byteSize": photo.len() } }),
        )
        .await;
    let ticket = &ticket["requestUpload"];
    let url = ticket["url"].as_str().expect("url");
    assert!(
        url.starts_with(&format!("{}/clinic-files/eu/prod/", s3.endpoint)),
        "{url}"
    );
    assert!(url.contains("X-Amz-Signature="), "{url}");
    let headers: Vec<(String, String)> = ticket["headers"]
        .as_array()
        .expect("headers")
        .iter()
        .map(|h| {
            (
                h["name"].as_str().unwrap_or_default().to_owned(),
                h["value"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert!(headers.contains(&("x-amz-server-side-encryption".into(), "AES256".into())));
    let mut put = reqwest::Client::new().put(url).body(photo.clone());
    for (name, value) in &headers {
        put = put.header(name, value);
    }
    let sent = put.send().await.expect("PUT to S3");
    assert!(sent.status().is_success(), "{:?}", sent.text().await);
    // The upload itself is kept encrypted by S3, as the signed headers asked.
    let uploaded = s3.encryption().await;
    assert_eq!(uploaded.len(), 1, "{uploaded:?}");
    assert_eq!(uploaded[0].1.as_deref(), Some("AES256"), "{uploaded:?}");
    let id = ticket["file"]["id"].as_str().expect("id");
    app.ok(&nurse, COMPLETE, json!({ "id": id })).await;
    let file = settled(&app, &nurse, id).await;
    assert_eq!(file["status"], "READY", "{file}");
    assert_eq!(
        (file["width"].as_i64(), file["height"].as_i64()),
        (Some(200), Some(400))
    );
    let download = get(&app, file["url"].as_str().expect("url")).await;
    assert_eq!(download.status, 200, "{}", download.text);
    assert!(!holds(&download.bytes, b"Exif"));

    // The multipart path to the same bucket.
    let sent = app
        .send(multipart_request(
            &nurse,
            &patient,
            &jpeg_with_exif(64, 32, 1),
            true,
        ))
        .await;
    let second = sent.body["data"]["uploadPatientFile"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert_eq!(settled(&app, &nurse, &second).await["status"], "READY");

    let keys = s3.keys().await;
    assert_eq!(
        keys.len(),
        6,
        "three sizes of each, no uploads left: {keys:?}"
    );
    for key in &keys {
        assert!(key.starts_with("eu/prod/"), "{key}");
        assert!(!key.ends_with("/upload"), "{key}");
    }
    // Every size written by processing is encrypted by S3 as well.
    let written = s3.encryption().await;
    assert_eq!(written.len(), 6, "{written:?}");
    for (key, encryption) in &written {
        assert_eq!(encryption.as_deref(), Some("AES256"), "{key}");
    }

    // An upload larger than announced is refused when completed, and removed.
    let ticket = app
        .ok(
            &nurse,
            REQUEST,
            json!({ "i": { "patientId": patient, "kind": "PHOTO", "name": "liar.jpg",
                "contentType": "image/jpeg", "byteSize": 100 } }),
        )
        .await;
    let url = ticket["requestUpload"]["url"].as_str().expect("url");
    let _ = reqwest::Client::new()
        .put(url)
        .header("content-type", "image/jpeg")
        .header("x-amz-server-side-encryption", "AES256")
        .body(vec![0_u8; 5000])
        .send()
        .await
        .expect("PUT");
    let id = ticket["requestUpload"]["file"]["id"].as_str().expect("id");
    let refused = app.gql(Some(&nurse), COMPLETE, json!({ "id": id })).await;
    // S3 itself refuses a body that differs from the signed length; moto may store it, and
    // then completing it is refused.
    assert!(
        matches!(
            refused.code(),
            Some("UPLOAD_NOT_RECEIVED" | "FILE_TOO_LARGE")
        ),
        "{}",
        refused.text
    );
    assert_eq!(s3.keys().await.len(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_on_sqlite() {
    uploads_to_s3(crate::helpers::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_on_postgres() {
    uploads_to_s3(crate::helpers::Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_on_mysql() {
    uploads_to_s3(crate::helpers::Backend::Mysql).await;
}

/// `fileUpdated` over the API's WebSocket endpoint, while a separate worker process (sharing the
/// file store and the queue) processes the upload; then the clinic's stored bytes on `/metrics`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_updated_follows_processing_on_a_worker_process() {
    use crate::helpers::server::Server;
    use crate::helpers::subscriber::Subscriber;
    let app = TestApp::spawn(crate::helpers::Backend::Sqlite)
        .await
        .expect("SQLite");
    let shared = app.jobs_dir.path();
    let queue = shared.join("shared-queue.db").display().to_string();
    let files = shared.join("shared-files").display().to_string();
    let env = [
        ("WORKERS_IN_PROCESS", "false"),
        ("JOBS_QUEUE_PATH", queue.as_str()),
        ("FILES_DIR", files.as_str()),
    ];
    let api = Server::start(&app.database_url, &env).await;
    let nurse = api.login("nurse@demo.clinic").await;
    let patient = api
        .ok(
            &nurse,
            "mutation($i: CreatePatientInput!) { createPatient(input: $i) { id } }",
            json!({ "i": patient_input("Live Photo", "live.photo@example.com") }),
        )
        .await["createPatient"]["id"]
        .as_str()
        .expect("patient")
        .to_owned();
    let photo = jpeg_with_exif(90, 45, 6);
    let ticket = api
        .ok(
            &nurse,
            REQUEST,
            json!({ "i": { "patientId": patient, "kind": "PHOTO", "name": "live.jpg",
                "contentType": "image/jpeg", "byteSize": photo.len() } }),
        )
        .await;
    let ticket = &ticket["requestUpload"];
    let sent = api
        .client()
        .put(api.url(ticket["url"].as_str().expect("url")))
        .header("content-type", "image/jpeg")
        .body(photo)
        .send()
        .await
        .expect("PUT");
    assert_eq!(sent.status(), 204);
    let id = ticket["file"]["id"].as_str().expect("id").to_owned();
    api.ok(&nurse, COMPLETE, json!({ "id": id })).await;
    let subscriber = Subscriber::start(
        &api.ws_url(),
        Some(&nurse),
        "subscription($id: ID!) { fileUpdated(id: $id) { id status width height } }",
        json!({ "id": id }),
        // More than it can get: the server completes the subscription once the file is READY.
        1_000,
        Duration::from_secs(60),
    )
    .await;
    let worker = Server::start_worker(&app.database_url, &env);
    let updates: Vec<Value> = subscriber
        .until_complete()
        .await
        .into_iter()
        .map(|payload| payload["data"]["fileUpdated"].clone())
        .collect();
    let status = worker.stop().await;
    assert!(status.success(), "{status}");
    assert_eq!(updates.len(), 2, "{updates:?}");
    assert_eq!(updates[0]["status"], "PENDING", "first the file as it is");
    assert_eq!(updates[1]["status"], "READY");
    assert_eq!(
        (updates[1]["width"].as_i64(), updates[1]["height"].as_i64()),
        (Some(45), Some(90))
    );

    let metrics = api.text("/metrics").await;
    let clinic = app.demo_clinic_id().await;
    let line = metrics
        .lines()
        .find(|line| line.starts_with(&format!("files_clinic_bytes{{clinic=\"{clinic}\"}}")))
        .unwrap_or_else(|| panic!("no files_clinic_bytes in /metrics:\n{metrics}"));
    let bytes: f64 = line
        .rsplit(' ')
        .next()
        .expect("value")
        .parse()
        .expect("a number");
    assert!(bytes > 0.0, "{line}");
    assert!(
        metrics.contains("files_clinic_quota_bytes 21474836480"),
        "{metrics}"
    );
}
