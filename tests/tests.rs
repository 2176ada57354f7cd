
mod audio_devices;
