use crate::apperror::AppError;
use crate::models::User;

/// Users have ids `1..=USER_COUNT`.
pub const USER_COUNT: i64 = 10_000;

/// All users, indexed by `id - 1`.
#[derive(Debug)]
pub struct Users {
    by_index: Vec<User>,
}

impl Users {
    pub fn generate() -> Self {
        Self {
            by_index: (1..=USER_COUNT).map(user).collect(),
        }
    }

    pub fn get(&self, id: i64) -> Result<&User, AppError> {
        if id <= 0 {
            return Err(AppError::invalid_id());
        }
        usize::try_from(id - 1)
            .ok()
            .and_then(|index| self.by_index.get(index))
            .ok_or_else(|| AppError::NotFound(format!("user {id} not found")))
    }

    pub fn exists(&self, id: i64) -> bool {
        (1..=USER_COUNT).contains(&id)
    }
}

fn user(id: i64) -> User {
    User {
        id,
        name: format!("User {id}"),
        email: format!("user{id}@example.com"),
        age: 18 + (id * 7919) % 62,
        tags: vec![format!("t{}", id % 5), format!("t{}", id % 7)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas() {
        let users = Users::generate();
        let first = users.get(1).unwrap();
        assert_eq!(
            serde_json::to_value(first).unwrap(),
            serde_json::json!({"id":1,"name":"User 1","email":"user1@example.com","age":63,"tags":["t1","t1"]})
        );
        let last = users.get(10_000).unwrap();
        assert_eq!(last.id, 10_000);
        assert_eq!(last.age, 18 + (10_000 * 7919) % 62);
        assert_eq!(last.tags, ["t0", "t4"]);
    }

    #[test]
    fn lookups() {
        let users = Users::generate();
        assert_eq!(
            users.get(0).unwrap_err().message(),
            "invalid id: must be a positive integer"
        );
        assert_eq!(
            users.get(-5).unwrap_err().message(),
            "invalid id: must be a positive integer"
        );
        assert_eq!(
            users.get(10_001).unwrap_err().message(),
            "user 10001 not found"
        );
        assert_eq!(
            users.get(i64::MAX).unwrap_err().message(),
            "user 9223372036854775807 not found"
        );
    }
}
