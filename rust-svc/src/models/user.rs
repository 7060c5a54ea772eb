use serde::Serialize;

/// `{"id":1,"name":"User 1","email":"user1@example.com","age":63,"tags":["t1","t1"]}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub age: i64,
    pub tags: Vec<String>,
}
