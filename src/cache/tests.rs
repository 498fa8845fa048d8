use std::sync::Arc;
use std::time::Duration;

use super::*;

fn cache() -> EntityCache {
    EntityCache::new(Arc::new(MemoryStore::new(1_000)), Duration::from_secs(60))
}

#[tokio::test]
async fn a_filled_entity_is_found_under_its_clinic_only() {
    let cache = cache();
    cache.fill(Kind::Patient, [(1, 7, &"Ada".to_owned())]).await;
    let found: HashMap<i64, String> = cache.get_many(Kind::Patient, 1, &[7, 8]).await;
    assert_eq!(found, HashMap::from([(7, "Ada".to_owned())]));
    let other_clinic: HashMap<i64, String> = cache.get_many(Kind::Patient, 2, &[7]).await;
    assert!(other_clinic.is_empty());
    let other_kind: HashMap<i64, String> = cache.get_many(Kind::Doctor, 1, &[7]).await;
    assert!(other_kind.is_empty());
}

#[tokio::test]
async fn a_read_that_raced_a_write_cannot_refill_the_old_value() {
    let cache = cache();
    cache.fill(Kind::Patient, [(1, 7, &"old".to_owned())]).await;
    cache.invalidate(Kind::Patient, 1, &[7]).await;
    let after_write: HashMap<i64, String> = cache.get_many(Kind::Patient, 1, &[7]).await;
    assert!(after_write.is_empty(), "invalidated entries are misses");
    // A reader that loaded the row before the write commits it late: refused.
    cache.fill(Kind::Patient, [(1, 7, &"old".to_owned())]).await;
    let still: HashMap<i64, String> = cache.get_many(Kind::Patient, 1, &[7]).await;
    assert!(still.is_empty());
}

#[tokio::test]
async fn a_zero_ttl_disables_the_cache() {
    let cache = EntityCache::new(Arc::new(MemoryStore::new(10)), Duration::ZERO);
    cache.fill(Kind::Clinic, [(1, 1, &5_i64)]).await;
    let found: HashMap<i64, i64> = cache.get_many(Kind::Clinic, 1, &[1]).await;
    assert!(found.is_empty());
}

#[tokio::test]
async fn an_entry_of_another_shape_is_a_miss_not_an_error() {
    let cache = cache();
    cache.fill(Kind::Doctor, [(1, 3, &1_u8)]).await;
    let found: HashMap<i64, (String, String, String)> = cache.get_many(Kind::Doctor, 1, &[3]).await;
    assert!(found.is_empty());
}
