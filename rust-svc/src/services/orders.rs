use std::sync::{Arc, Mutex, PoisonError};

use crate::apperror::AppError;
use crate::models::{NewOrder, ORDER_STATUS_CREATED, Order, OrderLine};

use super::catalog::Catalog;
use super::users::Users;

/// Slots in the order ring: the 100,001st order evicts order 1.
pub const DEFAULT_ORDER_CAPACITY: usize = 100_000;
pub const MAX_ITEMS: usize = 100;
pub const MAX_QUANTITY: i64 = 1_000;

/// A ring of `capacity` orders indexed by `id % capacity`, behind one mutex.
/// Ids are assigned under the lock, counting up from 1.
#[derive(Debug)]
pub struct OrderStore {
    ring: Mutex<Ring>,
}

#[derive(Debug)]
struct Ring {
    last_id: i64,
    slots: Vec<Option<Arc<Order>>>,
}

impl Ring {
    fn slot(&self, id: i64) -> usize {
        // `id` is positive and the length came from a usize, so both casts are lossless.
        (id.unsigned_abs() % self.slots.len() as u64) as usize
    }
}

impl OrderStore {
    /// # Panics
    /// If `capacity` is 0.
    pub fn new(capacity: usize) -> Self {
        assert!(capacity > 0, "the order ring needs at least one slot");
        Self {
            ring: Mutex::new(Ring {
                last_id: 0,
                slots: vec![None; capacity],
            }),
        }
    }

    /// Validates `new` (422 rules, in contract order), prices it and stores it.
    pub fn create(
        &self,
        new: NewOrder,
        users: &Users,
        catalog: &Catalog,
    ) -> Result<Arc<Order>, AppError> {
        if !users.exists(new.user_id) {
            return Err(AppError::Validation(format!(
                "unknown user_id {}",
                new.user_id
            )));
        }
        let count = new.items.len();
        if !(1..=MAX_ITEMS).contains(&count) {
            return Err(AppError::Validation(format!(
                "items must contain 1 to 100 entries, got {count}"
            )));
        }
        let mut items = Vec::with_capacity(count);
        let mut total_cents = 0;
        for (i, item) in new.items.into_iter().enumerate() {
            let Some(product) = catalog.by_sku(&item.sku) else {
                return Err(AppError::Validation(format!(
                    "items[{i}].sku: unknown sku {}",
                    item.sku
                )));
            };
            if !(1..=MAX_QUANTITY).contains(&item.quantity) {
                return Err(AppError::Validation(format!(
                    "items[{i}].quantity: must be in 1..=1000, got {}",
                    item.quantity
                )));
            }
            // At most 100 lines of 1000 x 9999 cents: no overflow.
            let line_total_cents = product.price_cents * item.quantity;
            total_cents += line_total_cents;
            items.push(OrderLine {
                sku: item.sku,
                quantity: item.quantity,
                unit_price_cents: product.price_cents,
                line_total_cents,
            });
        }
        Ok(self.insert(new.user_id, items, total_cents))
    }

    fn insert(&self, user_id: i64, items: Vec<OrderLine>, total_cents: i64) -> Arc<Order> {
        let mut ring = self.lock();
        ring.last_id += 1;
        let id = ring.last_id;
        let order = Arc::new(Order {
            id,
            user_id,
            items,
            total_cents,
            status: ORDER_STATUS_CREATED,
        });
        let slot = ring.slot(id);
        let evicted = ring.slots[slot].replace(Arc::clone(&order));
        drop(ring);
        // Free the evicted order outside the lock.
        drop(evicted);
        order
    }

    /// The order if it is still in the ring; `id <= 0` is a bad request.
    pub fn get(&self, id: i64) -> Result<Arc<Order>, AppError> {
        if id <= 0 {
            return Err(AppError::invalid_id());
        }
        let found = {
            let ring = self.lock();
            ring.slots[ring.slot(id)]
                .as_ref()
                .filter(|order| order.id == id)
                .cloned()
        };
        found.ok_or_else(|| AppError::NotFound(format!("order {id} not found")))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Ring> {
        // Every critical section leaves the ring consistent, so a poisoned lock is usable.
        self.ring.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::NewOrderItem;

    struct Fixture {
        users: Users,
        catalog: Catalog,
    }

    fn fixture() -> Fixture {
        Fixture {
            users: Users::generate(),
            catalog: Catalog::generate(),
        }
    }

    fn item(sku: &str, quantity: i64) -> NewOrderItem {
        NewOrderItem {
            sku: sku.to_owned(),
            quantity,
        }
    }

    fn order(user_id: i64, items: Vec<NewOrderItem>) -> NewOrder {
        NewOrder { user_id, items }
    }

    fn validation_message(store: &OrderStore, f: &Fixture, new: NewOrder) -> String {
        match store.create(new, &f.users, &f.catalog) {
            Err(AppError::Validation(message)) => message,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn creates_priced_orders() {
        let f = fixture();
        let store = OrderStore::new(DEFAULT_ORDER_CAPACITY);
        let created = store
            .create(
                order(
                    1,
                    vec![
                        item("SKU-00001", 2),
                        item("SKU-00002", 1),
                        item("SKU-00001", 1),
                    ],
                ),
                &f.users,
                &f.catalog,
            )
            .unwrap();
        assert_eq!(
            serde_json::to_value(&*created).unwrap(),
            serde_json::json!({
                "id": 1, "user_id": 1, "status": "created", "total_cents": 137 * 3 + 174,
                "items": [
                    {"sku":"SKU-00001","quantity":2,"unit_price_cents":137,"line_total_cents":274},
                    {"sku":"SKU-00002","quantity":1,"unit_price_cents":174,"line_total_cents":174},
                    {"sku":"SKU-00001","quantity":1,"unit_price_cents":137,"line_total_cents":137},
                ]
            })
        );
        assert_eq!(store.get(1).unwrap(), created);
        assert_eq!(store.get(2).unwrap_err().message(), "order 2 not found");
        assert_eq!(
            store.get(0).unwrap_err().message(),
            "invalid id: must be a positive integer"
        );
    }

    #[test]
    fn validation_runs_in_contract_order() {
        let f = fixture();
        let store = OrderStore::new(DEFAULT_ORDER_CAPACITY);
        let cases = [
            (order(0, vec![]), "unknown user_id 0"),
            (
                order(10_001, vec![item("nope", 0)]),
                "unknown user_id 10001",
            ),
            (order(-3, vec![]), "unknown user_id -3"),
            (
                order(1, vec![]),
                "items must contain 1 to 100 entries, got 0",
            ),
            (
                order(1, vec![item("SKU-00001", 1); 101]),
                "items must contain 1 to 100 entries, got 101",
            ),
            (
                order(1, vec![item("SKU-00001", 1), item("SKU-9", 0)]),
                "items[1].sku: unknown sku SKU-9",
            ),
            (
                order(1, vec![item("SKU-00001", 0), item("SKU-9", 0)]),
                "items[0].quantity: must be in 1..=1000, got 0",
            ),
            (
                order(1, vec![item("SKU-00001", 1001)]),
                "items[0].quantity: must be in 1..=1000, got 1001",
            ),
            (
                order(1, vec![item("SKU-00001", -4)]),
                "items[0].quantity: must be in 1..=1000, got -4",
            ),
            (order(1, vec![item("", 1)]), "items[0].sku: unknown sku "),
        ];
        for (new, message) in cases {
            assert_eq!(validation_message(&store, &f, new), message);
        }
        // Rejected orders do not consume ids.
        let ok = store
            .create(
                order(10_000, vec![item("SKU-01000", 1000); 100]),
                &f.users,
                &f.catalog,
            )
            .unwrap();
        assert_eq!(ok.id, 1);
        assert_eq!(ok.items.len(), 100);
    }

    #[test]
    fn the_ring_evicts_the_oldest_order() {
        let f = fixture();
        let store = OrderStore::new(3);
        let create = || {
            store
                .create(order(1, vec![item("SKU-00001", 1)]), &f.users, &f.catalog)
                .unwrap()
                .id
        };
        assert_eq!((create(), create(), create()), (1, 2, 3));
        for id in 1..=3 {
            assert_eq!(store.get(id).unwrap().id, id);
        }
        assert_eq!(create(), 4);
        assert_eq!(store.get(1).unwrap_err().message(), "order 1 not found");
        for id in 2..=4 {
            assert_eq!(store.get(id).unwrap().id, id);
        }
        assert_eq!(store.get(7).unwrap_err().message(), "order 7 not found");
        assert!(store.get(i64::MAX).is_err());
    }

    #[test]
    fn concurrent_creates_get_unique_ids() {
        let f = fixture();
        let store = OrderStore::new(DEFAULT_ORDER_CAPACITY);
        let mut ids: Vec<i64> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    scope.spawn(|| {
                        (0..500)
                            .map(|_| {
                                store
                                    .create(
                                        order(2, vec![item("SKU-00003", 1)]),
                                        &f.users,
                                        &f.catalog,
                                    )
                                    .unwrap()
                                    .id
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect()
        });
        ids.sort_unstable();
        assert_eq!(ids, (1..=4000).collect::<Vec<_>>());
        assert_eq!(store.get(4000).unwrap().id, 4000);
    }
}
