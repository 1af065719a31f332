//! The progress bar long commands draw on stderr: hidden with `NO_COLOR` (unless
//! `MERGEBENCH_PROGRESS` asks for it) and when the command writes JSON.

const TEMPLATE: &str = "{elapsed_precise} [{bar:30}] {pos}/{len} eta {eta} {msg}";

/// A bar of `total` steps, or a hidden one when `show` is false or colour is off.
pub fn bar(total: u64, show: bool) -> indicatif::ProgressBar {
    if !show
        || std::env::var_os("NO_COLOR").is_some()
            && std::env::var_os("MERGEBENCH_PROGRESS").is_none()
    {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(TEMPLATE)
            // cannot fail: the template is a literal, checked by the unit test below.
            .expect("valid progress template")
            .progress_chars("=> "),
    );
    bar
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_template_parses() {
        assert!(indicatif::ProgressStyle::with_template(super::TEMPLATE).is_ok());
    }
}
