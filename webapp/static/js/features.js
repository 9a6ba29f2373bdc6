// Screens that depend on optional parts of the JSON API: each screen also copes with the
// server answering that the part is off (501 not-supported) or not for this caller (403).
export const FEATURES = {
  // POST/GET /fund-requests: a merchant whose vendor is a node of the distribution network.
  fundRequests: true,
  // GET /points, /points/statement, POST /points/redemptions: consumers and merchants.
  rewardPoints: true,
  // GET /billers, POST /bills/fetch, POST /bills/payments, GET /orders/{id}: a provider
  // network wired for bills (the screen says so when the server answers 501).
  bills: true,
  // GET /remitters/{mobile}/beneficiaries, GET /transfers/fee, POST /transfers: merchants,
  // with a provider wired for money transfer.
  moneyTransfer: true,
};
