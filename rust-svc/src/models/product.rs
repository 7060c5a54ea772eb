use serde::Serialize;

/// `{"id":1,"sku":"SKU-00001","name":"Product 1","price_cents":137,"category":"games"}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Product {
    pub id: i64,
    pub sku: String,
    pub name: String,
    pub price_cents: i64,
    pub category: &'static str,
}

/// `{"items":[product...],"total":1000}`
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ProductPage<'a> {
    pub items: &'a [Product],
    pub total: i64,
}
