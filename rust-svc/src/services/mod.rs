//! Domain logic shared by REST (`handlers`) and gRPC (`grpcapi`): the data set
//! generated from the contract's formulas, paging, order validation and the
//! bounded order store.

mod catalog;
mod orders;
mod users;

use std::sync::Arc;

pub use catalog::{Catalog, DEFAULT_LIMIT, MAX_LIMIT, PRODUCT_COUNT, check_limit, check_offset};
pub use orders::{DEFAULT_ORDER_CAPACITY, MAX_ITEMS, MAX_QUANTITY, OrderStore};
pub use users::{USER_COUNT, Users};

use crate::apperror::AppError;
use crate::models::{NewOrder, Order, Product, User};

/// Everything the handlers need: read-only data plus the order store.
#[derive(Debug)]
pub struct Services {
    users: Users,
    catalog: Catalog,
    orders: OrderStore,
}

impl Default for Services {
    fn default() -> Self {
        Self::new(DEFAULT_ORDER_CAPACITY)
    }
}

impl Services {
    /// Generates the data set; `order_capacity` is the size of the order ring.
    pub fn new(order_capacity: usize) -> Self {
        Self {
            users: Users::generate(),
            catalog: Catalog::generate(),
            orders: OrderStore::new(order_capacity),
        }
    }

    /// `id <= 0` is a bad request, an unknown id is not found.
    pub fn user(&self, id: i64) -> Result<&User, AppError> {
        self.users.get(id)
    }

    /// Validates `limit` then `offset` (absent means 20 and 0) and returns the page.
    pub fn products(
        &self,
        limit: Option<i64>,
        offset: Option<i64>,
    ) -> Result<&[Product], AppError> {
        let limit = check_limit(limit)?;
        let offset = check_offset(offset)?;
        Ok(self.catalog.page(limit, offset))
    }

    /// The page for an already validated `limit` and `offset`.
    pub fn product_page(&self, limit: u64, offset: u64) -> &[Product] {
        self.catalog.page(limit, offset)
    }

    /// Validates the order (422 rules, in contract order) and stores it.
    pub fn create_order(&self, new: NewOrder) -> Result<Arc<Order>, AppError> {
        self.orders.create(new, &self.users, &self.catalog)
    }

    /// An order still in the ring; `id <= 0` is a bad request.
    pub fn order(&self, id: i64) -> Result<Arc<Order>, AppError> {
        self.orders.get(id)
    }
}
