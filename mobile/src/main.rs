//! The app's entry point: launches the platform renderer chosen by feature.

#[cfg(any(feature = "desktop", feature = "mobile", feature = "web"))]
fn main() {
    dioxus::launch(doorstep_mobile::App);
}

#[cfg(not(any(feature = "desktop", feature = "mobile", feature = "web")))]
fn main() {
    eprintln!(
        "doorstep-mobile was built without a platform: build it with \
         `--features desktop` (or `web`, `mobile`)"
    );
    std::process::exit(2);
}
