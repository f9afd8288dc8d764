import { html, htmlDocument, RenderedMail } from 'nestor';

export interface OrderConfirmationData {
  orderId: number;
  total: string;
  items: { name: string; quantity: number; unitPrice: string }[];
}

/** The customer's order confirmation; product names are escaped in the HTML. */
export function orderConfirmationMail({ orderId, total, items }: OrderConfirmationData): RenderedMail {
  const subject = `Your order #${orderId}`;
  return {
    subject,
    text: [
      `Thank you for your order #${orderId}. Total: ${total}.`,
      '',
      ...items.map((i) => `${i.quantity} × ${i.name} at ${i.unitPrice}`),
    ].join('\n'),
    html: htmlDocument(
      subject,
      html`<p>Thank you for your order #${orderId}. Total: <strong>${total}</strong>.</p>
        <ul>
          ${items.map((i) => html`<li>${i.quantity} × ${i.name} at ${i.unitPrice}</li>`)}
        </ul>`,
    ),
  };
}
