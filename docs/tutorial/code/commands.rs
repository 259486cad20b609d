// The order's commands and handlers (part 2).
// Included (hidden) by the tutorial's later code blocks; see the part that shows it.
/// Opens an order.
#[command(aggregate = Order)]
pub struct CreateOrder {
    #[command(id)]
    pub order_id: String,
    pub customer_id: String,
}

/// Puts an item in an order.
#[command(aggregate = Order)]
pub struct AddItem {
    #[command(id)]
    pub order_id: String,
    pub sku: String,
    pub qty: u32,
    pub price_cents: u64,
}

/// Takes an item out again.
#[command(aggregate = Order)]
pub struct RemoveItem {
    #[command(id)]
    pub order_id: String,
    pub sku: String,
}

/// Sends the order.
#[command(aggregate = Order)]
pub struct ShipOrder {
    #[command(id)]
    pub order_id: String,
    pub tracking: String,
}

/// Why an order refuses a command.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum OrderError {
    #[error("order {0} already exists")]
    AlreadyCreated(String),
    #[error("order {0} does not exist")]
    NotCreated(String),
    #[error("order {0} has shipped and can no longer change")]
    AlreadyShipped(String),
    #[error("item {0} is not in the order")]
    NoSuchItem(String),
    #[error("an empty order cannot ship")]
    Empty,
}

#[command_handler]
impl Order {
    fn create(&self, cmd: CreateOrder) -> Result<Vec<OrderEvent>, OrderError> {
        if self.created {
            return Err(OrderError::AlreadyCreated(self.id.clone()));
        }
        Ok(vec![OrderEvent::Created { customer_id: cmd.customer_id }])
    }

    fn add_item(&self, cmd: AddItem) -> Result<Vec<OrderEvent>, OrderError> {
        self.ensure_open()?;
        Ok(vec![OrderEvent::ItemAdded {
            sku: cmd.sku,
            qty: cmd.qty,
            price_cents: cmd.price_cents,
        }])
    }

    fn remove_item(&self, cmd: RemoveItem) -> Result<Vec<OrderEvent>, OrderError> {
        self.ensure_open()?;
        if !self.items.iter().any(|i| i.sku == cmd.sku) {
            return Err(OrderError::NoSuchItem(cmd.sku));
        }
        Ok(vec![OrderEvent::ItemRemoved { sku: cmd.sku }])
    }

    fn ship(&self, cmd: ShipOrder) -> Result<Vec<OrderEvent>, OrderError> {
        self.ensure_open()?;
        if self.items.is_empty() {
            return Err(OrderError::Empty);
        }
        Ok(vec![OrderEvent::Shipped { tracking: cmd.tracking }])
    }

    #[command_handler(skip)]
    fn ensure_open(&self) -> Result<(), OrderError> {
        if !self.created {
            return Err(OrderError::NotCreated(self.id.clone()));
        }
        if self.shipped {
            return Err(OrderError::AlreadyShipped(self.id.clone()));
        }
        Ok(())
    }
}

/// Rules that need no state: checked by `ValidationLayer` before the
/// order is even loaded.
impl mink::Validate for AddItem {
    fn validate(&self) -> Result<(), mink::ValidationErrors> {
        let mut v = mink::ValidationErrors::new();
        v.check(self.sku.trim().is_empty(), "sku", "must not be empty");
        v.check(self.qty == 0, "qty", "must be at least 1");
        v.into_result()
    }
}
