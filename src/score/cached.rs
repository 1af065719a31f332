//! Cache-or-compute, written once for every scorer: whatever is computed from a patch is
//! stored under (patch, task, scorer version), so a re-run never recomputes it and never
//! reuses it for another patch. A stored value that no longer parses is computed again.

use crate::error::Error;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::future::Future;

/// The value `stored` holds when it parses (and `true`: it came from the cache); else what
/// `compute` gives, handed as JSON to `save` before it is returned (and `false`).
pub async fn or_compute<T, Fut>(
    stored: Option<String>,
    compute: Fut,
    save: impl FnOnce(&str) -> Result<(), Error>,
) -> Result<(T, bool), Error>
where
    T: Serialize + DeserializeOwned,
    Fut: Future<Output = Result<T, Error>>,
{
    if let Some(value) = stored.and_then(|json| serde_json::from_str::<T>(&json).ok()) {
        return Ok((value, true));
    }
    let value = compute.await?;
    let json = serde_json::to_string(&value)
        .map_err(|e| Error::infra_from("cannot store a scorer's result", e))?;
    save(&json)?;
    Ok((value, false))
}

#[cfg(test)]
mod tests {
    use super::or_compute;
    use crate::error::Error;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a current-thread runtime")
            .block_on(f)
    }

    #[test]
    fn a_stored_value_is_returned_without_computing() {
        let (v, cached): (u32, bool) = block_on(or_compute(
            Some("7".into()),
            async { panic!("computed although cached") },
            |_| panic!("saved although cached"),
        ))
        .unwrap();
        assert_eq!((v, cached), (7, true));
    }

    #[test]
    fn a_stored_value_that_no_longer_parses_is_computed_and_saved_again() {
        let mut saved = None;
        let (v, cached): (u32, bool) = block_on(or_compute(
            Some("{not json".into()),
            async { Ok(5) },
            |json| {
                saved = Some(json.to_string());
                Ok(())
            },
        ))
        .unwrap();
        assert_eq!((v, cached, saved.as_deref()), (5, false, Some("5")));
    }

    #[test]
    fn a_failed_computation_saves_nothing() {
        let r: Result<(u32, bool), Error> = block_on(or_compute(
            None,
            async { Err(Error::infra("docker went away")) },
            |_| panic!("saved a failure"),
        ));
        assert!(r.is_err());
    }
}
