use std::collections::HashMap;

use crate::apperror::AppError;
use crate::models::Product;

/// Products have ids `1..=PRODUCT_COUNT`; it is also every page's `total`.
pub const PRODUCT_COUNT: i64 = 1_000;
pub const DEFAULT_LIMIT: u64 = 20;
pub const MAX_LIMIT: i64 = 1_000;

const CATEGORIES: [&str; 5] = ["books", "games", "tools", "food", "toys"];

/// All products in id order, with a sku index for orders.
#[derive(Debug)]
pub struct Catalog {
    products: Vec<Product>,
    by_sku: HashMap<String, usize>,
}

impl Catalog {
    pub fn generate() -> Self {
        let products: Vec<Product> = (1..=PRODUCT_COUNT).map(product).collect();
        let by_sku = products
            .iter()
            .enumerate()
            .map(|(index, p)| (p.sku.clone(), index))
            .collect();
        Self { products, by_sku }
    }

    /// Products with ids `offset+1 ..= min(offset+limit, 1000)`.
    pub fn page(&self, limit: u64, offset: u64) -> &[Product] {
        let len = self.products.len() as u64;
        let start = offset.min(len);
        let end = offset.saturating_add(limit).min(len);
        // Both bounds are at most `len`, which came from a usize.
        &self.products[start as usize..end as usize]
    }

    pub fn by_sku(&self, sku: &str) -> Option<&Product> {
        self.by_sku.get(sku).map(|&index| &self.products[index])
    }
}

/// Absent means 20; otherwise it must be in `1..=1000`.
pub fn check_limit(limit: Option<i64>) -> Result<u64, AppError> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n.unsigned_abs()),
        Some(_) => Err(AppError::invalid_limit()),
    }
}

/// Absent means 0; otherwise it must not be negative.
pub fn check_offset(offset: Option<i64>) -> Result<u64, AppError> {
    match offset {
        None => Ok(0),
        Some(n) => u64::try_from(n).map_err(|_| AppError::invalid_offset()),
    }
}

fn product(id: i64) -> Product {
    Product {
        id,
        sku: format!("SKU-{id:05}"),
        name: format!("Product {id}"),
        price_cents: 100 + (id * 37) % 9900,
        // `id % 5` is in 0..5.
        category: CATEGORIES[(id % 5) as usize],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(page: &[Product]) -> Vec<i64> {
        page.iter().map(|p| p.id).collect()
    }

    #[test]
    fn formulas() {
        let catalog = Catalog::generate();
        assert_eq!(
            serde_json::to_value(&catalog.page(1, 0)[0]).unwrap(),
            serde_json::json!({"id":1,"sku":"SKU-00001","name":"Product 1","price_cents":137,"category":"games"})
        );
        let last = catalog.by_sku("SKU-01000").unwrap();
        assert_eq!(last.id, 1000);
        assert_eq!(last.price_cents, 100 + (1000 * 37) % 9900);
        assert_eq!(last.category, "books");
        assert!(catalog.by_sku("SKU-1000").is_none());
        assert!(catalog.by_sku("sku-00001").is_none());
    }

    #[test]
    fn paging_edges() {
        let catalog = Catalog::generate();
        assert_eq!(ids(catalog.page(20, 0)), (1..=20).collect::<Vec<_>>());
        assert_eq!(ids(catalog.page(5, 995)), (996..=1000).collect::<Vec<_>>());
        assert_eq!(ids(catalog.page(10, 998)), vec![999, 1000]);
        assert_eq!(ids(catalog.page(1000, 0)).len(), 1000);
        assert!(catalog.page(1, 1000).is_empty());
        assert!(catalog.page(1000, u64::MAX).is_empty());
        assert!(catalog.page(1000, i64::MAX as u64).is_empty());
    }

    #[test]
    fn limit_and_offset_rules() {
        assert_eq!(check_limit(None).unwrap(), 20);
        assert_eq!(check_limit(Some(1)).unwrap(), 1);
        assert_eq!(check_limit(Some(1000)).unwrap(), 1000);
        for bad in [0, -1, 1001, i64::MIN, i64::MAX] {
            assert_eq!(
                check_limit(Some(bad)).unwrap_err().message(),
                "invalid limit: must be an integer in 1..=1000"
            );
        }
        assert_eq!(check_offset(None).unwrap(), 0);
        assert_eq!(check_offset(Some(0)).unwrap(), 0);
        assert_eq!(check_offset(Some(i64::MAX)).unwrap(), i64::MAX as u64);
        for bad in [-1, i64::MIN] {
            assert_eq!(
                check_offset(Some(bad)).unwrap_err().message(),
                "invalid offset: must be a non-negative integer"
            );
        }
    }
}
