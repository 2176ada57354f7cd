//! Video frames: taken from `realtimeInput.video` and the deprecated `mediaChunks`, checked (a JPEG or PNG
//! header), paced (frames closer than 0.5 s are ignored and counted) and acknowledged in the reply to the
//! next user turn. Frames that must count as "too fast" travel in one message, so they arrive together
//! whatever the machine's load.

use super::*;

fn encoded(w: u32, h: u32, format: image::ImageFormat) -> String {
    let img = image::DynamicImage::ImageRgb8(image::RgbImage::new(w, h));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    encode_base64(&out.into_inner())
}

fn text_turn(text: &str) -> Value {
    json!({"clientContent": {"turns": [{"role": "user", "parts": [{"text": text}]}], "turnComplete": true}})
}

#[tokio::test]
async fn frames_are_counted_paced_checked_and_acknowledged_by_the_next_turn() {
    let server = start(fast()).await;
    let mut c = session(&server, json!({"generationConfig": {"responseModalities": ["TEXT"]}})).await;
    send(&mut c, text_turn("before")).await;
    assert_eq!(
        read_turn(&mut c).await.text,
        "You said: before",
        "no image yet: no mention"
    );
    let jpeg = encoded(40, 30, image::ImageFormat::Jpeg);
    let png = encoded(20, 10, image::ImageFormat::Png);
    let garbage = encode_base64(b"definitely not an image");
    send(
        &mut c,
        json!({"realtimeInput": {"video": {"mimeType": "image/jpeg", "data": jpeg},
            "mediaChunks": [{"mimeType": "image/png", "data": png}, {"mimeType": "image/png", "data": garbage}]}}),
    )
    .await;
    send(&mut c, text_turn("look")).await;
    assert_eq!(
        read_turn(&mut c).await.text,
        "You said: look. I see 1 image, the last 40x30; 1 frame ignored (faster than 1 frame/s); 1 frame not a JPEG or PNG"
    );
    send(&mut c, text_turn("again")).await;
    assert_eq!(read_turn(&mut c).await.text, "You said: again", "counted per turn");
}

#[tokio::test]
async fn deprecated_media_chunks_carry_images_too_and_audio_turns_mention_them() {
    let server = start(fast()).await;
    let mut extra = manual();
    extra["outputAudioTranscription"] = json!({});
    let mut c = session(&server, extra).await;
    let png = encoded(64, 48, image::ImageFormat::Png);
    send(
        &mut c,
        json!({"realtime_input": {"media_chunks": [{"mime_type": "image/png", "data": png}]}}),
    )
    .await;
    send(&mut c, json!({"realtimeInput": {"activityStart": {}}})).await;
    send(&mut c, audio(&ramp(3200))).await;
    send(&mut c, json!({"realtimeInput": {"activityEnd": {}}})).await;
    let turn = read_turn(&mut c).await;
    assert_eq!(turn.output, "(echo of 0.2 s). I see 1 image, the last 64x48");
    assert_eq!(
        turn.audio,
        echo_reply_samples(&ramp(3200)),
        "the audio path is untouched"
    );
}
