//! The app's entry point: starts the offline core on its own thread, then
//! the platform renderer chosen by feature.

#[cfg(any(feature = "desktop", feature = "mobile"))]
fn main() {
    let dir = std::env::var_os("DOORSTEP_APP_DATA")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from("doorstep-app-data"));
    match doorstep_mobile::services::start_core(&dir) {
        Ok(core) => {
            let launch = dioxus::LaunchBuilder::new().with_context_provider(move || {
                match doorstep_mobile::services::native_link(core.clone()) {
                    Some(link) => Box::new(link),
                    None => Box::new(()),
                }
            });
            #[cfg(feature = "desktop")]
            let launch = launch.with_cfg(
                dioxus::desktop::Config::new().with_window(
                    dioxus::desktop::WindowBuilder::new()
                        .with_title("Doorstep")
                        .with_inner_size(dioxus::desktop::LogicalSize::new(420.0, 860.0)),
                ),
            );
            launch.launch(doorstep_mobile::App)
        }
        Err(error) => {
            eprintln!(
                "doorstep: the app could not open its data in {}: {error}",
                dir.display()
            );
            std::process::exit(1);
        }
    }
}

// The browser build starts from `doorstep-web`'s `start_app`, not here.
#[cfg(all(feature = "web", not(any(feature = "desktop", feature = "mobile"))))]
fn main() {}

#[cfg(not(any(feature = "desktop", feature = "mobile", feature = "web")))]
fn main() {
    eprintln!(
        "doorstep-mobile was built without a platform: build it with \
         `--features desktop` (or `web`, `mobile`)"
    );
    std::process::exit(2);
}
