//! Images end to end: `--image` files and `--images` globs arrive as JPEG video frames in order, at the
//! size asked for and at most one a second, before the first turn (and before `talk`'s question); `/image
//! PATH` mid-chat and in a voice session (through the pump) is seen by the next turn only; a corrupt image
//! or an empty glob is one clear error before connecting.

use std::path::{Path, PathBuf};

use voxlive::protocol::ClientMessage;
use voxlive::server::MessageLog;

use super::*;

/// A PNG of `w` x `h` in `dir`: a pattern of its own coordinates, so every size decodes to a real image.
fn write_png(dir: &Path, name: &str, w: u32, h: u32) -> PathBuf {
    let path = dir.join(name);
    image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x % 251) as u8, (y % 241) as u8, 90]))
        .save(&path)
        .unwrap();
    path
}

/// The JPEG frames the server received, in order, decoded: their sizes.
fn frames_received(log: &MessageLog) -> Vec<(u32, u32)> {
    log.snapshot()
        .iter()
        .filter_map(|(_, m)| match m {
            ClientMessage::RealtimeInput(r) => r.video.as_ref(),
            _ => None,
        })
        .map(|blob| {
            assert_eq!(blob.mime_type, "image/jpeg");
            let img = image::load_from_memory_with_format(&blob.data, image::ImageFormat::Jpeg).unwrap();
            (img.width(), img.height())
        })
        .collect()
}

/// Kinds of what the server received, in order ("video", "turn", ...).
fn kinds(log: &MessageLog) -> Vec<&'static str> {
    log.snapshot()
        .iter()
        .map(|(_, m)| match m {
            ClientMessage::RealtimeInput(r) if r.video.is_some() => "video",
            ClientMessage::ClientContent(_) => "turn",
            _ => "other",
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_arrive_as_video_frames_in_order_at_size_before_the_first_turn() {
    let dir = tempfile::tempdir().unwrap();
    let wide = write_png(dir.path(), "a-wide.png", 1536, 1024);
    let shots = tempfile::tempdir().unwrap();
    write_png(shots.path(), "s1.png", 100, 80);
    write_png(shots.path(), "s2.png", 2000, 500);
    std::fs::write(shots.path().join("notes.txt"), "not an image").unwrap();
    let (server, _, messages) = recording_server().await;
    // 5 frames/s asked for: clamped to the service's 1/s, which the server's pace check confirms (frames
    // 0.2 s apart would be counted as ignored in its reply)
    let o = chat(
        &server,
        &[
            "--image",
            wide.to_str().unwrap(),
            "--images",
            shots.path().join("*.png").to_str().unwrap(),
            "--image-rate",
            "5",
            "--image-size",
            "768",
        ],
        "what do you see\n",
        None,
    )
    .await;
    let out = ok(&o);
    let (_, err) = text(&o);
    assert!(err.contains("at most 1 frame a second"), "{err}");
    assert_eq!(frames_received(&messages), [(768, 512), (100, 80), (768, 192)]);
    assert_eq!(kinds(&messages), ["video", "video", "video", "turn"]);
    assert!(out.contains("(sent 3 images)"), "{out}");
    assert!(
        out.contains("You said: what do you see. I see 3 images, the last 768x192\n"),
        "no frame ignored for pace, none invalid: {out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_mid_chat_is_seen_by_the_next_turn_only_and_keeps_the_pace() {
    let dir = tempfile::tempdir().unwrap();
    let first = write_png(dir.path(), "first.png", 100, 100);
    let shot = write_png(dir.path(), "shot.png", 640, 480);
    let (server, _, messages) = recording_server().await;
    // the /image lines come at once after the feed's frame and each other: the one gate keeps them 1 s
    // apart, or the server would report frames ignored for pace
    let input = format!(
        "hello\n/image {}\nand now?\n/image {}\n/image {}\nlast\n",
        shot.display(),
        dir.path().join("gone.png").display(),
        first.display()
    );
    let o = chat(
        &server,
        &["--image", first.to_str().unwrap(), "--image-size", "320x320"],
        &input,
        None,
    )
    .await;
    let out = ok(&o);
    assert!(
        out.contains("assistant: You said: hello. I see 1 image, the last 100x100\n"),
        "{out}"
    );
    assert!(out.contains("sent (320x240)"), "{out}");
    assert!(
        out.contains("assistant: You said: and now?. I see 1 image, the last 320x240\n"),
        "{out}"
    );
    assert!(out.contains("(warning: image ") && out.contains("gone.png"), "{out}");
    assert!(
        out.contains("assistant: You said: last. I see 1 image, the last 100x100\n"),
        "{out}"
    );
    assert!(!out.contains("ignored"), "{out}");
    assert_eq!(kinds(&messages), ["video", "turn", "video", "turn", "video", "turn"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_or_huge_image_is_one_clear_error_before_connecting() {
    let dir = tempfile::tempdir().unwrap();
    let good = write_png(dir.path(), "good.png", 50, 50);
    let bytes = std::fs::read(&good).unwrap();
    let corrupt = dir.path().join("corrupt.png");
    std::fs::write(&corrupt, &bytes[..bytes.len() / 3]).unwrap();
    let (server, setups, _) = recording_server().await;
    let o = chat(
        &server,
        &["--image", good.to_str().unwrap(), "--image", corrupt.to_str().unwrap()],
        "hi\n",
        None,
    )
    .await;
    usage_error(&o, "corrupt.png");
    let o = chat(
        &server,
        &["--images", dir.path().join("*.gif").to_str().unwrap()],
        "hi\n",
        None,
    )
    .await;
    usage_error(&o, "no image files");
    assert!(setups.snapshot().is_empty(), "no connection with a bad image");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn talk_sends_its_images_before_the_question_and_the_reply_sees_them() {
    let dir = tempfile::tempdir().unwrap();
    let shot = write_png(dir.path(), "shot.png", 1000, 1000);
    let (server, _, messages) = recording_server().await;
    let input = sample("what_time_tokyo_16k.wav");
    let out = dir.path().join("reply.wav");
    let args: Vec<String> = [
        "--endpoint",
        &server.base_url(),
        "--model",
        BUDGET_MODEL,
        "--image",
        shot.to_str().unwrap(),
        "--image-size",
        "500",
        "talk",
        "--fast",
        "--input",
        input.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let stdout = ok(&voxlive(args, "", None).await);
    assert!(stdout.contains("I see 1 image, the last 500x500"), "{stdout}");
    assert_eq!(frames_received(&messages), [(500, 500)]);
    let first = messages.snapshot().into_iter().next().map(|(_, m)| m);
    assert!(
        matches!(&first, Some(ClientMessage::RealtimeInput(r)) if r.video.is_some()),
        "the image goes first: {first:?}"
    );
}

/// Shows nothing; keeps the notices and wakes the test at the end of a turn.
struct Notes(
    std::sync::Arc<std::sync::Mutex<Vec<voxlive::conversation::Notice>>>,
    std::sync::Arc<tokio::sync::Notify>,
);

impl voxlive::ui::Renderer for Notes {
    fn show(&mut self, notice: &voxlive::conversation::Notice) {
        if matches!(notice, voxlive::conversation::Notice::TurnDone { .. }) {
            self.1.notify_one();
        }
        self.0.lock().unwrap().push(notice.clone());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_typed_in_a_voice_session_goes_up_through_the_pump_before_the_next_line() {
    use voxlive::conversation::{Conversation, Notice, Policy, TalkMode, VadSource};
    use voxlive::media::{FrameGate, MaxSize};
    use voxlive::modes::drive::{drive, Exit, Io};
    use voxlive::modes::image_input::ImageInput;
    use voxlive::ui::UserInput;
    let dir = tempfile::tempdir().unwrap();
    let shot = write_png(dir.path(), "shot.png", 1024, 768);
    let (server, _, messages) = recording_server().await;
    let setup = setup(voxlive::protocol::Modality::Audio, true);
    let (session, events) = voxlive::session::start(options(&server, setup)).await.unwrap();
    let (_mic, frames) = tokio::sync::mpsc::channel(8);
    let (keys, user) = tokio::sync::mpsc::channel(8);
    let notes = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let done = std::sync::Arc::new(tokio::sync::Notify::new());
    let mut io = Io {
        session: session.clone(),
        events,
        frames,
        audio_events: None,
        user: Some(user),
        playback: Box::new(voxlive::modes::playback::Collector::default()),
        renderer: Box::new(Notes(notes.clone(), done.clone())),
        transcript: None,
        latency: None,
        status: None,
        lossless_uplink: false,
        tools: Default::default(),
        image_input: Some(ImageInput {
            size: MaxSize::default(),
            gate: FrameGate::new(std::time::Duration::from_secs(1)),
        }),
    };
    let now = std::time::Instant::now();
    for text in [
        format!("/image {}", shot.display()),
        "/image".into(),
        "what is it".into(),
    ] {
        keys.send(UserInput::Line { text, at: now }).await.unwrap();
    }
    let mut conversation = Conversation::new(Policy::new(TalkMode::HandsFree(VadSource::Local)), now);
    let stop = async {
        done.notified().await;
        "the turn ended".to_string()
    };
    drive(&mut conversation, &mut io, Exit::OnStop, stop).await.unwrap();
    drop(io);
    session.close().await;
    let notes = notes.lock().unwrap().clone();
    let said = |f: &dyn Fn(&Notice) -> bool| notes.iter().any(f);
    assert!(
        said(&|n| matches!(n, Notice::Info(t) if t.ends_with("shot.png sent (768x576)"))),
        "{notes:?}"
    );
    assert!(
        said(&|n| matches!(n, Notice::Warning(t) if t.contains("/image PATH"))),
        "{notes:?}"
    );
    let heard: String = notes
        .iter()
        .filter_map(|n| match n {
            Notice::ModelTranscript { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(heard, "You said: what is it. I see 1 image, the last 768x576");
    assert_eq!(frames_received(&messages), [(768, 576)]);
}
